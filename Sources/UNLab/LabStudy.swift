import Foundation
import UnifiedNormalization

/// The normalization layers a study compares, each as the model's every `N`.
public enum LabNorm: String, CaseIterable, Codable, Sendable {
    case layerNorm = "LN"
    case batchNorm = "BN"
    case rmsNorm = "RMSNorm"
    case powerNorm = "PowerNorm"
    /// UN as the authors' `UN1d` (reference-compatible), outlier filtration on.
    case un = "UN"
    /// The same with filtration off (the ablation of the paper's "avoids collapse").
    case unWithoutFiltration = "UN-nofilter"
}

/// The task a study trains on.
public enum LabTask: String, CaseIterable, Codable, Sendable {
    /// The 8 × 8 digits (``DigitsDataset``), a ViT on 2 × 2 patches with a class token; metric: test
    /// accuracy (no padding: every batch has the same number of real tokens).
    case digits
    /// WordNet 3.0's example sentences of at most ``LabStudyConfiguration/maxSentenceBytes`` bytes
    /// (``SentenceCorpus``), a causal byte-level language model on right-padded batches (each batch
    /// has its own number of real tokens, as in the paper's translation task); metric: test bits per
    /// token (the next-token cross-entropy over the real positions in bits: bytes and the end mark).
    case text
}

/// One study: every norm × seed × learning rate on one task, the same schedule for all.
///
/// Sizes (defaults: the committed studies, ``preset(_:)``): a Transformer of width 16, 2 heads,
/// 2 blocks; digits: batch 32 of the 1,438 training and 359 test images; text: batch 16 sentences
/// of the training split; 300 AdamW steps with 30 warm-up steps. Digits: peak learning rate 3e-3
/// and a raised one of 0.3 for divergence counts (probed with two seeds: at 0.03 no run of any norm
/// diverged, at 0.1 two of twelve, at 0.3 six of twelve, at 1 eight; 0.3 is where counts can differ
/// between norms). Text: 3e-2 and 1 (probed with seed 1: after 300 steps LN reaches 3.64 test bits
/// per token at 3e-3, 3.41 at 3e-2, 4.24 at 1, where BN reaches 4.61; at 0.3 no run of any norm
/// diverged in a study of 5 seeds). UN and PowerNorm leave their warm-up (where they are plain batch
/// statistics) after 50 steps, so most of the run sees their smoothing; UN's window is the authors'
/// default 4.
public struct LabStudyConfiguration: Codable, Sendable, Equatable {
    public var task: LabTask
    public var norms: [LabNorm]
    public var seeds: [UInt64]
    public var learningRates: [Double]
    public var steps: Int
    public var batchSize: Int
    public var width: Int
    public var heads: Int
    public var layers: Int
    public var warmupSteps: Int
    /// Steps of UN's and PowerNorm's own warm-up (batch statistics before smoothing).
    public var normWarmup: Int

    /// Text task: the longest sentence used, in bytes (93% of the corpus's lines); longer lines are
    /// left out of both splits, so a batch has at most 65 positions.
    public static let maxSentenceBytes = 64
    /// UN's forward window `M` (the authors' default), used by every UN of a study.
    public static let unWindow = 4

    public init(
        task: LabTask = .digits, norms: [LabNorm] = LabNorm.allCases, seeds: [UInt64] = [1, 2, 3, 4, 5],
        learningRates: [Double]? = nil, steps: Int = 300, batchSize: Int? = nil, width: Int = 16,
        heads: Int = 2, layers: Int = 2, warmupSteps: Int = 30, normWarmup: Int = 50
    ) {
        self.task = task
        self.norms = norms
        self.seeds = seeds
        self.learningRates = learningRates ?? (task == .digits ? [3e-3, 0.3] : [3e-2, 1])
        self.steps = steps
        self.batchSize = batchSize ?? (task == .digits ? 32 : 16)
        self.width = width
        self.heads = heads
        self.layers = layers
        self.warmupSteps = warmupSteps
        self.normWarmup = normWarmup
    }

    /// The committed study of a task (`lab-results/digits-study/`, `lab-results/text-study/`).
    public static func preset(_ task: LabTask) -> LabStudyConfiguration { LabStudyConfiguration(task: task) }
    /// The committed digits study.
    public static let preset = LabStudyConfiguration()

    /// Every run of the study, in the order it is run (learning rate, then seed, then norm).
    public var runs: [LabRunKey] {
        learningRates.flatMap { lr in
            seeds.flatMap { s in norms.map { LabRunKey(norm: $0, seed: s, learningRate: lr) } }
        }
    }

    /// The first step of the fluctuation measures: after UN's and PowerNorm's warm-up and a full
    /// window, so that every norm is measured over the same steps, all of them smoothed for UN.
    public var statisticsFromStep: Int { normWarmup + Self.unWindow + 1 }

    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for an empty list or a
    ///   size, rate or count outside its range.
    public func validate() throws {
        func need(_ ok: Bool, _ name: String, _ value: String, _ requirement: String) throws {
            guard ok else {
                throw LabError.invalidConfiguration(parameter: name, value: value, requirement: requirement)
            }
        }
        try need(!norms.isEmpty, "norms", "[]", "must name at least one norm")
        try need(!seeds.isEmpty && seeds.count <= 1000, "seeds", "\(seeds.count)", "1...1000 seeds")
        try need(
            !learningRates.isEmpty && learningRates.allSatisfy { $0.isFinite && $0 > 0 && $0 <= 10 },
            "learningRates", "\(learningRates)", "finite, in (0, 10]")
        try need((1...100_000).contains(steps), "steps", "\(steps)", "1...100000")
        let most = task == .digits ? 1438 : 4096
        try need((1...most).contains(batchSize), "batchSize", "\(batchSize)", "1...\(most)")
        try need((1...512).contains(width), "width", "\(width)", "1...512")
        try need(heads >= 1 && width % heads == 0, "heads", "\(heads)", "≥ 1 and dividing the width \(width)")
        try need((1...16).contains(layers), "layers", "\(layers)", "1...16")
        try need((0...steps).contains(warmupSteps), "warmupSteps", "\(warmupSteps)", "0...steps")
        try need((0...100_000).contains(normWarmup), "normWarmup", "\(normWarmup)", "0...100000")
    }
}

/// One run's identity: its file name in a study directory is ``id``.
public struct LabRunKey: Codable, Sendable, Hashable {
    public var norm: LabNorm
    public var seed: UInt64
    public var learningRate: Double
    public init(norm: LabNorm, seed: UInt64, learningRate: Double) {
        self.norm = norm
        self.seed = seed
        self.learningRate = learningRate
    }
    public var id: String { "\(norm.rawValue)-seed\(seed)-lr\(learningRate)" }
}

/// What one norm layer's input statistics did over a run (claim L4). `σ²_c(t)` is the variance of
/// channel `c` of the layer's input over step `t`'s batch (``NormStepStatistics/variance``);
/// `Δ_c(t) = ln σ²_c(t) − ln σ²_c(t − 1)`, measured on the steps from ``fromStep`` on (channels with
/// `σ² = 0` left out; none occurred in the committed studies).
public struct LabLayerStatistics: Codable, Sendable, Equatable {
    public var fromStep: Int
    /// The root mean square of `Δ_c(t)` over channels and steps: the typical relative change of a
    /// channel's variance from one step to the next (0.1 ≈ 10%).
    public var fluctuation: Double
    /// The largest `|Δ_c(t)|` over channels and steps (an extreme jump of one channel's statistic).
    public var extreme: Double
    /// Per step `t = 2 …`: the root mean square of `Δ_c(t)` over channels, 4 significant digits.
    public var series: [Double]
    /// UN only: `v̂ = mean((ℓ_t − 2ℓ_{t−1} + ℓ_{t−2})²)/6` over channels and steps,
    /// `ℓ_t = ln E[x²]_c(t)`
    /// the batch's own statistic: for independent statistics around a level that moves at most
    /// linearly it estimates `Var(ln σ²)` (second differences cancel the drift).
    public var rawLogVariance: Double?
    /// UN only: the same for the statistic UN normalized by, `ℓ̂_t = ln σ̂²_c(t)`, from second differences
    /// at lag `M` on smoothed steps (`mean((ℓ̂_t − 2ℓ̂_{t−M} + ℓ̂_{t−2M})²)/6`: windows that share no
    /// batch), which for independent statistics estimates `Var(ln σ̂²) = Var(ln σ²)/M` (spec claim S1).
    public var smoothedLogVariance: Double?
    /// UN only: the steps at which this layer's filter fired (the step skipped smoothing).
    public var firingSteps: [Int]?

    public init(
        fromStep: Int, fluctuation: Double, extreme: Double, series: [Double], rawLogVariance: Double? = nil,
        smoothedLogVariance: Double? = nil, firingSteps: [Int]? = nil
    ) {
        self.fromStep = fromStep
        self.fluctuation = fluctuation
        self.extreme = extreme
        self.series = series
        self.rawLogVariance = rawLogVariance
        self.smoothedLogVariance = smoothedLogVariance
        self.firingSteps = firingSteps
    }
}

/// What one run measured. A run *diverged* when training threw (a statistic or gradient beyond the
/// range: the layers' typed errors), a loss was not finite, or the mean loss of its last 10% of steps
/// is at least the uniform prediction's loss (ln 10 for digits, ln of the vocabulary for text).
public struct LabRunResult: Codable, Sendable, Equatable {
    public var key: LabRunKey
    /// Mean cross-entropy of each step's batch before that step's update (as many as steps completed).
    public var losses: [Double]
    public var diverged: Bool
    /// Why it diverged (the error, or "loss not finite", "no better than uniform"); nil otherwise.
    public var divergence: String?
    /// Digits: accuracy on the 359 test images in inference mode (running statistics); nil when
    /// diverged or for text.
    public var testAccuracy: Double?
    /// Mean cross-entropy of the test split in inference mode (nats; per image, or per real
    /// target position for text); nil when diverged.
    public var testLoss: Double?
    /// Text: ``testLoss`` in bits (÷ ln 2); nil otherwise.
    public var testBitsPerToken: Double?
    /// Wall time of the run, seconds.
    public var seconds: Double
    /// Training images (digits) or real tokens (text) per second.
    public var imagesPerSecond: Double
    /// UN only: how many of the model's UN layers skipped (their filter fired) at each step, and how
    /// often each layer did over the run (layers in order: block 1's N₁, N₂, block 2's …, the final norm).
    public var filterFirings: [Int]?
    public var firingsPerLayer: [Int]?
    /// Each norm layer's input statistics over the run (same layer order); nil for a run that
    /// diverged before ``LabStudyConfiguration/statisticsFromStep``.
    public var statistics: [LabLayerStatistics]?
    /// BN, PowerNorm and UN: the trained model folded for inference, compared with itself unfolded on
    /// the whole test split (nil when diverged or not foldable).
    public var fold: FoldCheck?
    /// Why folding failed (nil when it did not or was not tried).
    public var foldFailure: String?
    /// The best of 3 timings of inference over the whole test split, unfolded and folded (seconds).
    public var inferenceSeconds: Double?
    public var foldedInferenceSeconds: Double?

    public init(
        key: LabRunKey, losses: [Double], diverged: Bool, divergence: String?, testAccuracy: Double?,
        testLoss: Double?, testBitsPerToken: Double? = nil, seconds: Double, imagesPerSecond: Double,
        filterFirings: [Int]? = nil, firingsPerLayer: [Int]? = nil, statistics: [LabLayerStatistics]? = nil,
        fold: FoldCheck? = nil, foldFailure: String? = nil, inferenceSeconds: Double? = nil,
        foldedInferenceSeconds: Double? = nil
    ) {
        self.key = key
        self.losses = losses
        self.diverged = diverged
        self.divergence = divergence
        self.testAccuracy = testAccuracy
        self.testLoss = testLoss
        self.testBitsPerToken = testBitsPerToken
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
        self.filterFirings = filterFirings
        self.firingsPerLayer = firingsPerLayer
        self.statistics = statistics
        self.fold = fold
        self.foldFailure = foldFailure
        self.inferenceSeconds = inferenceSeconds
        self.foldedInferenceSeconds = foldedInferenceSeconds
    }

    /// The run's final metric, higher is better: test accuracy (digits) or minus test bits per token (text).
    public var score: Double? { testAccuracy ?? testBitsPerToken.map { -$0 } }
}

/// Progress of a running study (for a terminal display; the library prints nothing).
public struct LabProgress: Sendable {
    public var run: Int
    public var runs: Int
    public var key: LabRunKey
    public var step: Int
    public var steps: Int
    public var loss: Double
    public var imagesPerSecond: Double
    /// Seconds since the study started.
    public var elapsed: Double
}

/// A study's data: the digits, or the sentences with their vocabulary and encoded splits.
public enum LabData: Sendable {
    case digits(DigitsDataset)
    case text(SentenceCorpus)

    public var task: LabTask {
        switch self {
        case .digits: return .digits
        case .text: return .text
        }
    }
}

/// Runs studies: every run is independent (its own seeded initialization and batch order), so a
/// study can be stopped between runs and resumed by running the missing ones.
public enum LabStudy {
    /// Trains one run of a digits study.
    /// - Throws: as ``run(_:configuration:data:progress:shouldStop:)-(_,_,LabData,_,_)``.
    public static func run(
        _ key: LabRunKey, configuration c: LabStudyConfiguration, data: DigitsDataset,
        progress: (Int, Double, Double) -> Void = { _, _, _ in }, shouldStop: () -> Bool = { false },
        timesInference: Bool = true
    ) throws -> LabRunResult? {
        try run(
            key, configuration: c, data: LabData.digits(data), progress: progress, shouldStop: shouldStop,
            timesInference: timesInference)
    }

    /// Trains one run.
    /// - Parameters:
    ///   - progress: called after every step with the step, its loss and the images (or real tokens)
    ///     per second so far.
    ///   - shouldStop: polled before every step; when it returns true the run ends early and the
    ///     result is `nil` (an incomplete run is never reported as a result).
    ///   - timesInference: time the test split's inference, unfolded and folded (best of 3 each);
    ///     false leaves ``LabRunResult/inferenceSeconds`` nil (tests, where time is not measured).
    /// - Throws: ``LabError`` for an invalid configuration or data of another task than the
    ///   configuration's; training errors are not thrown but recorded as a divergence.
    public static func run(
        _ key: LabRunKey, configuration c: LabStudyConfiguration, data: LabData,
        progress: (Int, Double, Double) -> Void = { _, _, _ in }, shouldStop: () -> Bool = { false },
        timesInference: Bool = true
    ) throws -> LabRunResult? {
        try c.validate()
        guard data.task == c.task else {
            throw LabError.invalidConfiguration(
                parameter: "data", value: data.task.rawValue,
                requirement: "must be the study's task, \(c.task.rawValue)")
        }
        switch key.norm {
        case .layerNorm:
            return try train(key, c, data, timesInference, progress, shouldStop) { try LayerNorm<Double>(channels: $0) }
        case .batchNorm:
            return try train(key, c, data, timesInference, progress, shouldStop) { try BatchNorm<Double>(channels: $0) }
        case .rmsNorm:
            return try train(key, c, data, timesInference, progress, shouldStop) { try RMSNorm<Double>(channels: $0) }
        case .powerNorm:
            return try train(key, c, data, timesInference, progress, shouldStop) {
                try PowerNorm<Double>(channels: $0, warmupIters: c.normWarmup)
            }
        case .un, .unWithoutFiltration:
            let filter = key.norm == .un
            return try train(key, c, data, timesInference, progress, shouldStop) {
                try UnifiedNorm<Double>(
                    configuration: .init(
                        channels: $0, forwardWindow: LabStudyConfiguration.unWindow, warmupIters: c.normWarmup,
                        outlierFiltration: filter),
                    mode: .referenceCompatible)
            }
        }
    }

    static func train<Norm: NormalizationLayer>(
        _ key: LabRunKey, _ c: LabStudyConfiguration, _ data: LabData, _ timing: Bool,
        _ progress: (Int, Double, Double) -> Void,
        _ shouldStop: () -> Bool, makeNorm: @escaping (Int) throws -> Norm
    ) throws -> LabRunResult? where Norm.Scalar == Double {
        switch data {
        case .digits(let d):
            return try trainDigits(key, c, d, timing, progress, shouldStop, makeNorm: makeNorm)
        case .text(let corpus):
            return try trainText(key, c, corpus, timing, progress, shouldStop, makeNorm: makeNorm)
        }
    }

    /// Best of 3 wall times of `body`, seconds.
    static func bestTime(_ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<3 {
            let t = Date()
            try body()
            best = min(best, Date().timeIntervalSince(t))
        }
        return best
    }

    static func trainDigits<Norm: NormalizationLayer>(
        _ key: LabRunKey, _ c: LabStudyConfiguration, _ data: DigitsDataset, _ timing: Bool,
        _ progress: (Int, Double, Double) -> Void,
        _ shouldStop: () -> Bool, makeNorm: (Int) throws -> Norm
    ) throws -> LabRunResult? where Norm.Scalar == Double {
        var rng = LabRandom(seed: key.seed)
        var model = try VisionTransformer(
            width: c.width, heads: c.heads, layers: c.layers, makeNorm: makeNorm, using: &rng)
        model.encoder.recordsStatistics = true
        var batchRng = LabRandom(seed: key.seed &+ 0x9E37_79B9)
        var order: [Int] = []
        var loop = try TrainingLoop(key, c, like: model.parameters, classes: model.classes)
        for step in 1...c.steps {
            if shouldStop() { return nil }
            if order.count < c.batchSize { order = Array(0..<data.train.count).shuffled(using: &batchRng) }
            let (images, labels) = try data.train.batch(Array(order.prefix(c.batchSize)))
            order.removeFirst(c.batchSize)
            let ok = loop.step(step, count: c.batchSize) {
                let (loss, gradient) = try model.lossAndGradient(images: images, labels: labels)
                return (loss, gradient, model.parameters)
            } apply: {
                try model.setParameters($0)
                return model.encoder.lastStatistics
            }
            guard ok else { break }
            progress(step, loop.losses.last ?? .nan, loop.rate)
        }
        return loop.finish { () throws -> Evaluation in
            let (images, labels) = try data.test.batch(Array(0..<data.test.count))
            let predicted = try model.predict(images: images, batch: labels.count)
            var e = Evaluation()
            e.accuracy = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
            let logits = try model.inference(images: images, batch: labels.count)
            e.loss = try CrossEntropy.loss(logits: logits, classes: model.classes, targets: labels).loss
            if timing { e.seconds = try bestTime { _ = try model.inference(images: images, batch: labels.count) } }
            if Self.foldable(key.norm) {
                do {
                    let folded = try FoldedVisionTransformer(model)
                    e.fold = try folded.check(images: images, batch: labels.count)
                    if timing {
                        e.foldedSeconds = try bestTime { _ = try folded.inference(images: images, batch: labels.count) }
                    }
                } catch { e.foldFailure = "\(error)" }
            }
            return e
        }
    }

    /// The sentences of a split that the text task uses, encoded (at most `maxSentenceBytes` bytes).
    static func encoded(_ split: [[UInt8]], _ v: ByteVocabulary) -> [[Int]] {
        split.filter { $0.count <= LabStudyConfiguration.maxSentenceBytes }.map { v.encode($0) }
    }

    static func trainText<Norm: NormalizationLayer>(
        _ key: LabRunKey, _ c: LabStudyConfiguration, _ corpus: SentenceCorpus, _ timing: Bool,
        _ progress: (Int, Double, Double) -> Void, _ shouldStop: () -> Bool, makeNorm: (Int) throws -> Norm
    ) throws -> LabRunResult? where Norm.Scalar == Double {
        let vocabulary = ByteVocabulary(training: corpus.train)
        let train = encoded(corpus.train, vocabulary)
        let test = encoded(corpus.test, vocabulary)
        var rng = LabRandom(seed: key.seed)
        var model = try ByteLanguageModel(
            vocabulary: vocabulary.count, contextLength: LabStudyConfiguration.maxSentenceBytes + 1, width: c.width,
            heads: c.heads, layers: c.layers, makeNorm: makeNorm, using: &rng)
        model.encoder.recordsStatistics = true
        var batchRng = LabRandom(seed: key.seed &+ 0x9E37_79B9)
        var order: [Int] = []
        var loop = try TrainingLoop(key, c, like: model.parameters, classes: vocabulary.count)
        for step in 1...c.steps {
            if shouldStop() { return nil }
            if order.count < c.batchSize { order = Array(0..<train.count).shuffled(using: &batchRng) }
            let batch = try LanguageBatch(sequences: order.prefix(c.batchSize).map { train[$0] })
            order.removeFirst(c.batchSize)
            let ok = loop.step(step, count: batch.padMask.filter { !$0 }.count) {
                let (loss, gradient) = try model.lossAndGradient(batch)
                return (loss, gradient, model.parameters)
            } apply: {
                try model.setParameters($0)
                return model.encoder.lastStatistics
            }
            guard ok else { break }
            progress(step, loop.losses.last ?? .nan, loop.rate)
        }
        return loop.finish { () throws -> Evaluation in
            // The test split in batches of 64 sentences (in file order): the same batches for every model.
            let batches = try stride(from: 0, to: test.count, by: 64).map {
                try LanguageBatch(sequences: Array(test[$0..<min($0 + 64, test.count)]))
            }
            var total = 0.0
            var count = 0
            for b in batches {
                let real = b.padMask.filter { !$0 }.count
                let logits = try model.inference(b)
                total +=
                    try CrossEntropy.loss(
                        logits: logits, classes: vocabulary.count, targets: b.targets, ignore: b.padMask
                    ).loss * Double(real)
                count += real
            }
            var e = Evaluation()
            e.loss = total / Double(count)
            e.bits = e.loss / Double.log(2)
            if timing { e.seconds = try bestTime { for b in batches { _ = try model.inference(b) } } }
            if Self.foldable(key.norm) {
                do {
                    let folded = try FoldedByteLanguageModel(model)
                    e.fold = try batches.map { try folded.check($0) }.reduce(nil) { $0?.merged(with: $1) ?? $1 }
                    if timing { e.foldedSeconds = try bestTime { for b in batches { _ = try folded.inference(b) } } }
                } catch { e.foldFailure = "\(error)" }
            }
            return e
        }
    }

    static func foldable(_ n: LabNorm) -> Bool { ![.layerNorm, .rmsNorm].contains(n) }

    /// What the test split says of a trained model.
    struct Evaluation {
        var accuracy: Double?
        var loss = Double.nan
        var bits: Double?
        var seconds: Double?
        var fold: FoldCheck?
        var foldedSeconds: Double?
        var foldFailure: String?
    }

    /// The task-independent part of a run: AdamW, the divergence rules, the statistics record.
    struct TrainingLoop {
        let key: LabRunKey
        let c: LabStudyConfiguration
        let classes: Int
        var optimizer: AdamW
        var losses: [Double] = []
        var divergence: String?
        var steps: [[NormStepStatistics]] = []
        var processed = 0
        let start = Date()

        init(_ key: LabRunKey, _ c: LabStudyConfiguration, like p: [[Double]], classes: Int) throws {
            self.key = key
            self.c = c
            self.classes = classes
            let schedule = try LearningRateSchedule(peak: key.learningRate, warmupSteps: c.warmupSteps)
            optimizer = AdamW(options: try AdamW.Options(schedule: schedule), like: p)
        }

        var rate: Double { Double(processed) / max(Date().timeIntervalSince(start), 1e-9) }

        /// One step; false when the run diverged at it.
        mutating func step(
            _ step: Int, count: Int, forward: () throws -> (Double, [[Double]], [[Double]]),
            apply: ([[Double]]) throws -> [NormStepStatistics]
        ) -> Bool {
            do {
                let (loss, gradient, parameters) = try forward()
                guard loss.isFinite else {
                    divergence = "loss not finite at step \(step)"
                    return false
                }
                var p = parameters
                try optimizer.update(&p, gradient: gradient)
                steps.append(try apply(p))
                losses.append(loss)
                processed += count
                return true
            } catch {
                divergence = "step \(step): \(error)"
                return false
            }
        }

        mutating func finish(_ evaluate: () throws -> Evaluation) -> LabRunResult {
            let seconds = Date().timeIntervalSince(start)
            let tail = losses.suffix(max(1, losses.count / 10))
            if divergence == nil, tail.reduce(0, +) / Double(tail.count) >= Double.log(Double(classes)) {
                divergence = "no better than uniform (last 10% mean loss ≥ ln \(classes))"
            }
            var e = Evaluation()
            if divergence == nil {
                do { e = try evaluate() } catch { divergence = "inference: \(error)" }
            }
            let isUN = key.norm == .un || key.norm == .unWithoutFiltration
            let layers = steps.first?.count ?? 0
            let firings = isUN ? steps.map { $0.filter { $0.unRegime == .skip }.count } : nil
            let perLayer = isUN ? (0..<layers).map { l in steps.filter { $0[l].unRegime == .skip }.count } : nil
            let ok = divergence == nil
            return LabRunResult(
                key: key, losses: losses, diverged: !ok, divergence: divergence,
                testAccuracy: ok ? e.accuracy : nil, testLoss: ok ? e.loss : nil, testBitsPerToken: ok ? e.bits : nil,
                seconds: seconds, imagesPerSecond: Double(processed) / max(seconds, 1e-9), filterFirings: firings,
                firingsPerLayer: perLayer,
                statistics: LayerStatisticsSummary.summarize(steps, from: c.statisticsFromStep, isUN: isUN),
                fold: ok ? e.fold : nil, foldFailure: e.foldFailure, inferenceSeconds: ok ? e.seconds : nil,
                foldedInferenceSeconds: ok ? e.foldedSeconds : nil)
        }
    }
}

/// Computes ``LabLayerStatistics`` from the per-step records.
enum LayerStatisticsSummary {
    static func summarize(_ steps: [[NormStepStatistics]], from: Int, isUN: Bool) -> [LabLayerStatistics]? {
        guard steps.count > from, let layers = steps.first?.count else { return nil }
        let m = LabStudyConfiguration.unWindow
        return (0..<layers).map { l in
            let s = steps.map { $0[l] }
            func logs(_ v: [Double]) -> [Double] { v.map { $0 > 0 && $0.isFinite ? Double.log($0) : .nan } }
            let lv = s.map { logs($0.variance) }
            var series: [Double] = []
            var sum = 0.0
            var n = 0
            var extreme = 0.0
            for t in 1..<s.count {
                var stepSum = 0.0
                var stepN = 0
                for (a, b) in zip(lv[t], lv[t - 1]) where a.isFinite && b.isFinite {
                    let d = a - b
                    stepSum += d * d
                    stepN += 1
                    // Step numbers are 1-based: record t is step t + 1.
                    if t + 1 >= from {
                        sum += d * d
                        n += 1
                        extreme = max(extreme, abs(d))
                    }
                }
                series.append(round4(stepN > 0 ? (stepSum / Double(stepN)).squareRoot() : .nan))
            }
            var raw: Double?
            var smoothed: Double?
            var firing: [Int]?
            if isUN {
                let lr = s.map { logs($0.unBatchStatistic ?? []) }
                let ls = s.map { logs($0.unStatistic ?? []) }
                // Second differences remove a linear drift of the level (training moves it): for
                // independent statistics of variance v, Var(ℓ_t − 2ℓ_{t−1} + ℓ_{t−2}) = 6v, and at lag M
                // on windows that share no batch, Var(ℓ̂_t − 2ℓ̂_{t−M} + ℓ̂_{t−2M}) = 6v/M.
                var (rs, rn, ss, sn) = (0.0, 0, 0.0, 0)
                for t in max(2, from + 1)..<s.count {
                    for c in lr[t].indices where c < lr[t - 1].count && c < lr[t - 2].count {
                        let d = lr[t][c] - 2 * lr[t - 1][c] + lr[t - 2][c]
                        guard d.isFinite else { continue }
                        rs += d * d
                        rn += 1
                    }
                }
                for t in stride(from: from - 1 + 2 * m, to: s.count, by: m)
                where [t, t - m, t - 2 * m].allSatisfy({ s[$0].unRegime == .smoothed }) {
                    for c in ls[t].indices where c < ls[t - m].count && c < ls[t - 2 * m].count {
                        let d = ls[t][c] - 2 * ls[t - m][c] + ls[t - 2 * m][c]
                        guard d.isFinite else { continue }
                        ss += d * d
                        sn += 1
                    }
                }
                raw = rn > 0 ? rs / Double(rn) / 6 : nil
                smoothed = sn > 0 ? ss / Double(sn) / 6 : nil
                firing = s.indices.filter { s[$0].unRegime == .skip }.map { $0 + 1 }
            }
            return LabLayerStatistics(
                fromStep: from, fluctuation: n > 0 ? (sum / Double(n)).squareRoot() : .nan, extreme: extreme,
                series: series, rawLogVariance: raw, smoothedLogVariance: smoothed, firingSteps: firing)
        }
    }

    /// `v` to 4 significant digits (the figures' resolution; keeps `study.json` small).
    static func round4(_ v: Double) -> Double {
        guard v.isFinite, v != 0 else { return v }
        return Double(String(format: "%.4g", v)) ?? v
    }
}

/// A study's results as written to `study.json` (schema in `docs/lab-schema.md`, versioned).
public struct LabStudyRecord: Codable, Sendable {
    public static let currentSchemaVersion = 2
    public var schemaVersion = LabStudyRecord.currentSchemaVersion
    public var configuration: LabStudyConfiguration
    /// The command, commit, machine and date it was made with (free text, for the reader).
    public var command: String
    public var commit: String
    public var machine: String
    public var date: String
    /// Completed runs, in the configuration's order; a resumed study fills the rest.
    public var runs: [LabRunResult]
    public var complete: Bool { runs.count == configuration.runs.count }

    public init(
        configuration: LabStudyConfiguration, command: String, commit: String, machine: String, date: String,
        runs: [LabRunResult]
    ) {
        self.configuration = configuration
        self.command = command
        self.commit = commit
        self.machine = machine
        self.date = date
        self.runs = runs
    }
}
