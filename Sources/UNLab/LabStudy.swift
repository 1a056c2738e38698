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

/// One study: every norm × seed × learning rate on the digits task, the same schedule for all.
///
/// Sizes (defaults: the committed study, ``preset``): a ViT of width 16, 2 heads, 2 blocks on the
/// 8 × 8 digits (1,438 training and 359 test images), batch 32, 300 AdamW steps with 30 warm-up
/// steps, peak learning rate 3e-3 and a raised one of 0.3 for divergence counts (probed with two
/// seeds: at 0.03 no run of any norm diverged, at 0.1 two of twelve, at 0.3 six of twelve, at 1 eight;
/// 0.3 is where counts can differ between norms). UN and
/// PowerNorm leave their warm-up (where they are plain batch statistics) after 50 steps, so most
/// of the run sees their smoothing; UN's window is the authors' default 4.
public struct LabStudyConfiguration: Codable, Sendable, Equatable {
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

    public init(
        norms: [LabNorm] = LabNorm.allCases, seeds: [UInt64] = [1, 2, 3, 4, 5], learningRates: [Double] = [3e-3, 0.3],
        steps: Int = 300, batchSize: Int = 32, width: Int = 16, heads: Int = 2, layers: Int = 2, warmupSteps: Int = 30,
        normWarmup: Int = 50
    ) {
        self.norms = norms
        self.seeds = seeds
        self.learningRates = learningRates
        self.steps = steps
        self.batchSize = batchSize
        self.width = width
        self.heads = heads
        self.layers = layers
        self.warmupSteps = warmupSteps
        self.normWarmup = normWarmup
    }

    /// The committed study (`lab-results/digits-study/`).
    public static let preset = LabStudyConfiguration()

    /// Every run of the study, in the order it is run (learning rate, then seed, then norm).
    public var runs: [LabRunKey] {
        learningRates.flatMap { lr in
            seeds.flatMap { s in norms.map { LabRunKey(norm: $0, seed: s, learningRate: lr) } }
        }
    }

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
        try need((1...1438).contains(batchSize), "batchSize", "\(batchSize)", "1...1438 (the training split)")
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

/// What one run measured. A run *diverged* when training threw (a statistic or gradient beyond the
/// range: the layers' typed errors), a loss was not finite, or the mean loss of its last 10% of steps
/// is at least ln 10 (no better than predicting every class equally often).
public struct LabRunResult: Codable, Sendable, Equatable {
    public var key: LabRunKey
    /// Mean cross-entropy of each step's batch before that step's update (as many as steps completed).
    public var losses: [Double]
    public var diverged: Bool
    /// Why it diverged (the error, or "loss not finite", "no better than uniform"); nil otherwise.
    public var divergence: String?
    /// Accuracy on the 359 test images in inference mode (folded statistics); nil when diverged.
    public var testAccuracy: Double?
    /// Mean cross-entropy of the test split in inference mode; nil when diverged.
    public var testLoss: Double?
    /// Wall time of the run, seconds.
    public var seconds: Double
    /// Training images per second.
    public var imagesPerSecond: Double
    /// UN only: how many of the model's UN layers skipped (their filter fired) at each step, and how
    /// often each layer did over the run (layers in order: block 1's N₁, N₂, block 2's …, the final norm).
    public var filterFirings: [Int]?
    public var firingsPerLayer: [Int]?

    public init(
        key: LabRunKey, losses: [Double], diverged: Bool, divergence: String?, testAccuracy: Double?,
        testLoss: Double?, seconds: Double, imagesPerSecond: Double, filterFirings: [Int]? = nil,
        firingsPerLayer: [Int]? = nil
    ) {
        self.key = key
        self.losses = losses
        self.diverged = diverged
        self.divergence = divergence
        self.testAccuracy = testAccuracy
        self.testLoss = testLoss
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
        self.filterFirings = filterFirings
        self.firingsPerLayer = firingsPerLayer
    }
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

/// Runs studies: every run is independent (its own seeded initialization and batch order), so a
/// study can be stopped between runs and resumed by running the missing ones.
public enum LabStudy {
    /// Trains one run.
    /// - Parameters:
    ///   - progress: called after every step.
    ///   - shouldStop: polled before every step; when it returns true the run ends early and the
    ///     result is `nil` (an incomplete run is never reported as a result).
    /// - Throws: ``LabError`` for an invalid configuration; training errors are not thrown but
    ///   recorded as a divergence.
    public static func run(
        _ key: LabRunKey, configuration c: LabStudyConfiguration, data: DigitsDataset,
        progress: (Int, Double, Double) -> Void = { _, _, _ in }, shouldStop: () -> Bool = { false }
    ) throws -> LabRunResult? {
        try c.validate()
        switch key.norm {
        case .layerNorm: return try train(key, c, data, progress, shouldStop) { try LayerNorm<Double>(channels: $0) }
        case .batchNorm: return try train(key, c, data, progress, shouldStop) { try BatchNorm<Double>(channels: $0) }
        case .rmsNorm: return try train(key, c, data, progress, shouldStop) { try RMSNorm<Double>(channels: $0) }
        case .powerNorm:
            return try train(key, c, data, progress, shouldStop) {
                try PowerNorm<Double>(channels: $0, warmupIters: c.normWarmup)
            }
        case .un, .unWithoutFiltration:
            let filter = key.norm == .un
            return try train(key, c, data, progress, shouldStop) {
                try UnifiedNorm<Double>(
                    configuration: .init(channels: $0, warmupIters: c.normWarmup, outlierFiltration: filter),
                    mode: .referenceCompatible)
            }
        }
    }

    static func train<Norm: NormalizationLayer>(
        _ key: LabRunKey, _ c: LabStudyConfiguration, _ data: DigitsDataset, _ progress: (Int, Double, Double) -> Void,
        _ shouldStop: () -> Bool, makeNorm: (Int) throws -> Norm
    ) throws -> LabRunResult? where Norm.Scalar == Double {
        var rng = LabRandom(seed: key.seed)
        var model = try VisionTransformer(
            width: c.width, heads: c.heads, layers: c.layers, makeNorm: makeNorm, using: &rng)
        let schedule = try LearningRateSchedule(peak: key.learningRate, warmupSteps: c.warmupSteps)
        var optimizer = AdamW(options: try AdamW.Options(schedule: schedule), like: model.parameters)
        var batchRng = LabRandom(seed: key.seed &+ 0x9E37_79B9)
        var order: [Int] = []
        var losses: [Double] = []
        let start = Date()
        var divergence: String?
        // UN's filter, read from each layer's regime after its step (nil for other norms).
        let isUN = Norm.self == UnifiedNorm<Double>.self
        var firings: [Int] = []
        var perLayer = [Int](repeating: 0, count: 2 * c.layers + 1)
        for step in 1...c.steps {
            if shouldStop() { return nil }
            if order.count < c.batchSize { order = Array(0..<data.train.count).shuffled(using: &batchRng) }
            let (images, labels) = try data.train.batch(Array(order.prefix(c.batchSize)))
            order.removeFirst(c.batchSize)
            do {
                let (loss, gradient) = try model.lossAndGradient(images: images, labels: labels)
                guard loss.isFinite else {
                    divergence = "loss not finite at step \(step)"
                    break
                }
                var p = model.parameters
                try optimizer.update(&p, gradient: gradient)
                try model.setParameters(p)
                losses.append(loss)
                if isUN {
                    let norms = model.encoder.blocks.flatMap { [$0.norm1, $0.norm2] } + [model.encoder.finalNorm]
                    var fired = 0
                    for (i, n) in norms.enumerated() where (n as? UnifiedNorm<Double>)?.lastRegime == .skip {
                        perLayer[i] += 1
                        fired += 1
                    }
                    firings.append(fired)
                }
            } catch {
                divergence = "step \(step): \(error)"
                break
            }
            let seconds = Date().timeIntervalSince(start)
            progress(step, losses.last ?? .nan, Double(step * c.batchSize) / max(seconds, 1e-9))
        }
        let seconds = Date().timeIntervalSince(start)
        let tail = losses.suffix(max(1, losses.count / 10))
        if divergence == nil, tail.reduce(0, +) / Double(tail.count) >= Double.log(10) {
            divergence = "no better than uniform (last 10% mean loss ≥ ln 10)"
        }
        var accuracy: Double?
        var testLoss: Double?
        if divergence == nil {
            do {
                let (images, labels) = try data.test.batch(Array(0..<data.test.count))
                let predicted = try model.predict(images: images, batch: labels.count)
                accuracy = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
                let logits = try model.inference(images: images, batch: labels.count)
                testLoss = try CrossEntropy.loss(logits: logits, classes: model.classes, targets: labels).loss
            } catch {
                divergence = "inference: \(error)"
            }
        }
        return LabRunResult(
            key: key, losses: losses, diverged: divergence != nil, divergence: divergence,
            testAccuracy: divergence == nil ? accuracy : nil, testLoss: divergence == nil ? testLoss : nil,
            seconds: seconds, imagesPerSecond: Double(losses.count * c.batchSize) / max(seconds, 1e-9),
            filterFirings: isUN ? firings : nil, firingsPerLayer: isUN ? perLayer : nil)
    }
}

/// A study's results as written to `study.json` (schema in `docs/lab-schema.md`, versioned).
public struct LabStudyRecord: Codable, Sendable {
    public static let currentSchemaVersion = 1
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
