import Foundation
import Testing
import UnifiedNormalization
import _TestSupport

@testable import UNLab

/// The lab's additions for claims L4 and LF: trained models folded for inference agree with
/// themselves unfolded within F2's bound at every fold point (and a wrong fold is caught), and the
/// fluctuation estimators recover known variances from generated statistics, drift included.
@Suite("UNLab: folded models and statistics of the norms' inputs")
struct FoldAndStatisticsTests {
    static let digits = PackagePaths.root.appendingPathComponent("Data/digits/digits.bin")
    static let sentences = PackagePaths.root.appendingPathComponent("Data/sentences/wordnet-examples.txt")

    /// Trains a tiny ViT for a few steps (so BN/PowerNorm/UN have moved their running statistics).
    func trained<Norm: NormalizationLayer>(
        _ makeNorm: (Int) throws -> Norm, steps: Int = 8
    ) throws -> (VisionTransformer<Norm>, [Double], Int) where Norm.Scalar == Double {
        let d = try DigitsDataset(contentsOf: Self.digits)
        var rng = LabRandom(seed: 11)
        var model = try VisionTransformer(width: 8, heads: 2, layers: 2, makeNorm: makeNorm, using: &rng)
        var opt = AdamW(
            options: try AdamW.Options(schedule: LearningRateSchedule(peak: 1e-2, warmupSteps: 0)),
            like: model.parameters)
        for s in 0..<steps {
            let (x, y) = try d.train.batch(Array((s * 16)..<(s * 16 + 16)))
            let (_, g) = try model.lossAndGradient(images: x, labels: y)
            var p = model.parameters
            try opt.update(&p, gradient: g)
            try model.setParameters(p)
        }
        let (images, _) = try d.test.batch(Array(0..<64))
        return (model, images, 64)
    }

    /// Every foldable norm: F2 holds at each of the 2·4 + 1 fold points, the logits agree to rounding,
    /// the predictions are the same. (F2's bound is `2γ_{n+3}·(magnitudes)`, `proofs/fusion.md#f2`.)
    @Test func foldedViTsAgreeWithinF2() throws {
        func check<Norm: NormalizationLayer>(_ make: (Int) throws -> Norm) throws -> FoldCheck
        where Norm.Scalar == Double {
            let (m, images, n) = try trained(make)
            let f = try FoldedVisionTransformer(m)
            let c = try f.check(images: images, batch: n)
            #expect(c.foldPoints == 9 && c.entries > 0)
            #expect(c.worstBoundRatio <= 1, "\(Norm.self): \(c)")
            #expect(c.predictionsDiffering == 0 && c.predictions == n, "\(Norm.self): \(c)")
            // The folded model's own inference is the one compared (not a copy of the unfolded).
            let z = try f.inference(images: images, batch: n)
            let u = try m.inference(images: images, batch: n)
            #expect(zip(z, u).map { abs($0 - $1) }.max()! == c.maxLogitDifference)
            return c
        }
        _ = try check { try BatchNorm<Double>(channels: $0) }
        _ = try check { try PowerNorm<Double>(channels: $0, warmupIters: 2) }
        _ = try check { try PowerNorm<Double>(channels: $0, warmupIters: 2, groups: 0) }
        let un = try check {
            try UnifiedNorm<Double>(
                configuration: .init(channels: $0, warmupIters: 2, outlierFiltration: true), mode: .referenceCompatible)
        }
        // Folding changes the order of operations, so the logits differ by rounding (not exactly 0).
        #expect(un.maxLogitDifference > 0 && un.maxLogitDifference < 1e-12, "\(un)")
        // LayerNorm and RMSNorm normalize each token by its own statistics: they do not fold.
        let (ln, _, _) = try trained { try LayerNorm<Double>(channels: $0) }
        #expect(throws: LabError.self) { try FoldedVisionTransformer(ln) }
        let (rms, _, _) = try trained { try RMSNorm<Double>(channels: $0) }
        #expect(throws: LabError.self) { try FoldedVisionTransformer(rms) }
    }

    /// A planted error: a folded layer whose weights are off by one part in 10¹⁰ (far beyond
    /// rounding, far below anything a prediction would show) breaks F2's bound.
    @Test func aWrongFoldIsCaught() throws {
        let (m, images, n) = try trained {
            try UnifiedNorm<Double>(configuration: .init(channels: $0, warmupIters: 2), mode: .referenceCompatible)
        }
        let x = try m.embed(images, batch: n).tokens
        let norm = try FoldableNorm(m.encoder.blocks[0].norm1)
        let q = m.encoder.blocks[0].attention.query
        let good = try norm.fold(into: q)
        let bad = try Dense(
            inputs: good.inputs, outputs: good.outputs, weight: good.weight.map { $0 * (1 + 1e-10) }, bias: good.bias)
        let normalized = try m.encoder.blocks[0].norm1.labForwardInference(
            x, batch: n, tokens: VisionTransformer<UnifiedNorm<Double>>.tokens, padMask: nil)
        let rows = n * VisionTransformer<UnifiedNorm<Double>>.tokens
        let real = [Bool](repeating: true, count: rows)
        var ok = FoldPointTally()
        try ok.compare(norm, unfolded: q, folded: good, input: x, normalized: normalized, rows: rows, real: real)
        var wrong = FoldPointTally()
        try wrong.compare(norm, unfolded: q, folded: bad, input: x, normalized: normalized, rows: rows, real: real)
        #expect(ok.worst <= 1, "\(ok.worst)")
        #expect(wrong.worst > 1, "a planted error of 1e-10 relative was not caught: \(wrong.worst)")
    }

    /// The language model folded: padded positions are left out of every comparison.
    @Test func foldedLanguageModelAgreesWithinF2() throws {
        let corpus = try SentenceCorpus(contentsOf: Self.sentences)
        let v = ByteVocabulary(training: corpus.train)
        var rng = LabRandom(seed: 5)
        var model = try ByteLanguageModel(
            vocabulary: v.count, contextLength: 98, width: 8, heads: 2, layers: 1,
            makeNorm: {
                try UnifiedNorm<Double>(configuration: .init(channels: $0, warmupIters: 1), mode: .referenceCompatible)
            },
            using: &rng)
        for b in try BatchOrder.language(corpus.train.map(v.encode), batchSize: 8, steps: 6, seed: 3) {
            _ = try model.lossAndGradient(b)
        }
        let test = try LanguageBatch(sequences: corpus.test.prefix(16).map(v.encode))
        let c = try FoldedByteLanguageModel(model).check(test)
        #expect(c.foldPoints == 5 && c.worstBoundRatio <= 1 && c.predictionsDiffering == 0, "\(c)")
        #expect(c.predictions == test.padMask.filter { !$0 }.count)
    }

    /// Generated statistics of known law: `ln σ²_c(t) = a·t + ε`, ε independent N(0, v), the smoothed
    /// statistic the geometric mean of the last M (as UN's reference mode forms it). The estimators
    /// must give `Var(ln σ²) = v` and `Var(ln σ̂²) = v/M` despite the drift `a`, and the fluctuation
    /// `√(2v)`. Tolerance 10%: with 16 channels × 3,000 steps, the second-difference estimator of the
    /// smoothed variance averages 16·(3000/M − 3) ≈ 12,000 squares whose correlation (lags ±1, ±2:
    /// −4/6, 1/6) inflates the variance of a mean of independent χ²₁ terms by 1 + 2(16 + 1)/36 ≈ 1.94,
    /// a relative standard error √(2·1.94/12000) = 1.8% (raw: 0.9%); 10% is over 5 of them for the ratio.
    @Test(arguments: [0.0, 1e-3]) func estimatorsRecoverKnownVariances(drift: Double) throws {
        let (channels, steps, m, v) = (16, 3000, LabStudyConfiguration.unWindow, 0.01)
        var rng = LabRandom(seed: 2026)
        var logs: [[Double]] = []
        var records: [[NormStepStatistics]] = []
        for t in 0..<steps {
            logs.append((0..<channels).map { _ in drift * Double(t) + v.squareRoot() * rng.normal() })
            let window = logs.suffix(m)
            let smoothed = (0..<channels).map { c in exp(window.map { $0[c] }.reduce(0, +) / Double(window.count)) }
            let raw = logs[t].map { exp($0) }
            records.append([
                NormStepStatistics(
                    variance: raw, unStatistic: smoothed, unBatchStatistic: raw, unRegime: t >= m ? .smoothed : .current
                )
            ])
        }
        let s = try #require(LayerStatisticsSummary.summarize(records, from: 2 * m, isUN: true)?.first)
        let raw = try #require(s.rawLogVariance)
        let smoothed = try #require(s.smoothedLogVariance)
        #expect(abs(raw / v - 1) < 0.1, "Var(ln σ²) \(raw), expected \(v)")
        #expect(abs(smoothed / (v / Double(m)) - 1) < 0.1, "Var(ln σ̂²) \(smoothed), expected \(v / Double(m))")
        #expect(abs(smoothed / raw * Double(m) - 1) < 0.1)
        // Δ = ε_t − ε_{t−1} + a: RMS √(2v + a²).
        let expected = (2 * v + drift * drift).squareRoot()
        #expect(abs(s.fluctuation / expected - 1) < 0.05, "\(s.fluctuation) vs \(expected)")
        #expect(s.series.count == steps - 1 && s.firingSteps == [])
    }

    /// Pinned: the recorded input variance is the biased variance over the real tokens only.
    @Test func observedVarianceSkipsPaddedTokens() throws {
        let x: [Double] = [1, 10, 3, 20, 100, -100]  // 3 rows × 2 channels; the last row padded
        let mask = [false, false, true]
        var ln = try LayerNorm<Double>(channels: 2)
        let (_, cache) = try ln.forwardTraining(
            TokenBatch(batch: 1, tokens: 3, channels: 2, values: x, padMask: mask))
        let s = NormStepStatistics.observe(x, channels: 2, padMask: mask, cache: cache, as: LayerNorm<Double>.self)
        #expect(s.variance == [1, 25] && s.unStatistic == nil)
    }

    /// The text task's study run: trains below the uniform loss, measures bits per token, folds UN.
    @Test func tinyTextStudyLearns() throws {
        let corpus = try SentenceCorpus(contentsOf: Self.sentences)
        let c = LabStudyConfiguration(
            task: .text, norms: [.layerNorm, .un], seeds: [3], learningRates: [1e-2], steps: 40, width: 8, heads: 2,
            layers: 1, warmupSteps: 5, normWarmup: 10)
        for key in c.runs {
            let r = try #require(try LabStudy.run(key, configuration: c, data: .text(corpus), timesInference: false))
            #expect(!r.diverged, "\(r.divergence ?? "")")
            let uniform = Double.log(Double(ByteVocabulary(training: corpus.train).count))
            #expect(r.losses.suffix(5).reduce(0, +) / 5 < uniform, "\(key.id): \(r.losses.suffix(5))")
            let bits = try #require(r.testBitsPerToken)
            #expect(bits > 0 && bits < uniform / Double.log(2) && r.testAccuracy == nil)
            #expect(r.statistics?.count == 3 && r.inferenceSeconds == nil)
            #expect((r.fold != nil) == (key.norm == .un), "\(r.foldFailure ?? "")")
            if let f = r.fold { #expect(f.worstBoundRatio <= 1 && f.predictionsDiffering == 0, "\(f)") }
        }
        // Data of the other task is refused.
        #expect(throws: LabError.self) {
            try LabStudy.run(c.runs[0], configuration: LabStudyConfiguration(task: .digits), data: .text(corpus))
        }
    }
}
