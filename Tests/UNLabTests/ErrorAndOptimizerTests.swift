import Testing
import UnifiedNormalization

@testable import UNLab

/// Bad input gets a typed error naming it (never a trap); the optimizer and its schedule compute
/// what their documentation says; BLAS is called with the right layouts.
@Suite("UNLab errors, optimizer, BLAS")
struct ErrorAndOptimizerTests {
    @Test("Layers reject bad sizes and values")
    func layerErrors() throws {
        #expect(throws: LabError.shapeMismatch(what: "weight", expected: [6], actual: [5])) {
            try Dense(inputs: 2, outputs: 3, weight: [1, 2, 3, 4, 5], bias: [0, 0, 0])
        }
        #expect(throws: LabError.nonFinite(what: "bias", index: 1)) {
            try Dense(inputs: 1, outputs: 2, weight: [1, 2], bias: [0, .nan])
        }
        #expect(
            throws: LabError.invalidConfiguration(
                parameter: "inputs", value: "0", requirement: "must lie in 1...1048576")
        ) {
            try Dense(inputs: 0, outputs: 2, weight: [], bias: [0, 0])
        }
        var rng = LabRandom(seed: 1)
        #expect(throws: LabError.self) { try MultiHeadAttention(width: 6, heads: 4, using: &rng) }
        let att = try MultiHeadAttention(width: 4, heads: 2, using: &rng)
        #expect(throws: LabError.shapeMismatch(what: "padMask", expected: [1, 3], actual: [2])) {
            try att.forward(
                [Double](repeating: 0, count: 12), batch: 1, tokens: 3, padMask: [false, true], causal: false)
        }
        #expect(throws: LabError.self) { try att.forward([1, 2, 3], batch: 1, tokens: 3, padMask: nil, causal: false) }
        // Sizes whose tensors would not fit in memory: a typed error before anything is allocated.
        #expect(
            throws: LabError.invalidConfiguration(
                parameter: "weight", value: "1048576 × 1048576", requirement: "must have at most 67108864 entries")
        ) { try Dense(inputs: 1 << 20, outputs: 1 << 20, using: &rng) }
        #expect(throws: LabError.self) { try TokenEmbedding(vocabulary: 1 << 20, width: 1 << 16, using: &rng) }
        #expect(throws: LabError.self) { try PositionEmbedding(positions: 1 << 20, width: 1 << 16, using: &rng) }
        let emb = try TokenEmbedding(vocabulary: 3, width: 2, using: &rng)
        #expect(throws: LabError.indexOutOfRange(what: "token ids", index: 0, value: 3, range: 0..<3)) {
            try emb.gradient([1, 1], ids: [3])
        }
        // A size product that overflows is a typed error, not a trap.
        #expect(throws: LabError.self) { try att.forward([], batch: Int.max, tokens: 2, padMask: nil, causal: false) }
    }

    @Test("Cross-entropy and batches reject bad targets")
    func lossErrors() throws {
        #expect(throws: LabError.indexOutOfRange(what: "targets", index: 1, value: 3, range: 0..<3)) {
            try CrossEntropy.loss(logits: [Double](repeating: 0, count: 6), classes: 3, targets: [0, 3])
        }
        #expect(throws: LabError.noRealTokens(what: "cross-entropy targets")) {
            try CrossEntropy.loss(logits: [0, 0], classes: 2, targets: [0], ignore: [true])
        }
        #expect(throws: LabError.nonFinite(what: "logits", index: 1)) {
            try CrossEntropy.loss(logits: [0, .infinity], classes: 2, targets: [0])
        }
        let split = try DigitsDataset(contentsOf: DigitsTests.url).test
        #expect(throws: LabError.indexOutOfRange(what: "sample indices", index: 1, value: 359, range: 0..<359)) {
            try split.batch([0, 359])
        }
        #expect(throws: LabError.self) { try LanguageBatch(sequences: []) }
        #expect(throws: LabError.self) { try LanguageBatch(sequences: [[1, 2], [3]]) }
    }

    @Test("Models reject bad tokens, sequences, images and parameters, unchanged")
    func modelErrors() throws {
        var rng = LabRandom(seed: 2)
        var lm = try ByteLanguageModel<LayerNorm<Double>>(
            vocabulary: 4, contextLength: 3, width: 4, heads: 2, layers: 1,
            makeNorm: { try LayerNorm<Double>(channels: $0) }, using: &rng)
        #expect(throws: LabError.indexOutOfRange(what: "token ids", index: 1, value: 7, range: 0..<4)) {
            try lm.loss(LanguageBatch(sequences: [[1, 7, 2]]))
        }
        #expect(throws: LabError.shapeMismatch(what: "sequence length", expected: [3], actual: [4])) {
            try lm.loss(LanguageBatch(sequences: [[1, 2, 3, 0, 1]]))
        }
        let before = lm.parameters
        var bad = before
        bad[3][0] = .nan
        #expect(throws: LabError.self) { try lm.setParameters(bad) }
        #expect(throws: LabError.self) { try lm.setParameters(Array(before.dropLast())) }
        #expect(lm.parameters == before)
        var vit = try VisionTransformer<LayerNorm<Double>>(
            width: 4, heads: 2, layers: 1, makeNorm: { try LayerNorm<Double>(channels: $0) }, using: &rng)
        #expect(throws: LabError.shapeMismatch(what: "images", expected: [128], actual: [64])) {
            try vit.loss(images: [Double](repeating: 0, count: 64), labels: [0, 1])
        }
        #expect(throws: LabError.nonFinite(what: "images", index: 3)) {
            try vit.loss(images: [0, 0, 0, .nan] + [Double](repeating: 0, count: 60), labels: [0])
        }
        #expect(throws: LabError.indexOutOfRange(what: "targets", index: 0, value: 10, range: 0..<10)) {
            try vit.loss(images: [Double](repeating: 0, count: 64), labels: [10])
        }
        // A norm that cannot be made: the numeric module's own typed error, wrapped.
        #expect(
            throws: LabError.normalization(
                .invalidConfiguration(parameter: "eps", value: "-1.0", requirement: "must be finite and > 0"))
        ) {
            try VisionTransformer<LayerNorm<Double>>(
                width: 4, heads: 2, layers: 1, makeNorm: { try LayerNorm<Double>(channels: $0, eps: -1) }, using: &rng)
        }
    }

    @Test("Learning-rate schedule: linear warm-up, then 1/√t")
    func schedule() throws {
        let s = try LearningRateSchedule(peak: 0.01, warmupSteps: 100)
        #expect(try s.rate(step: 1) == 0.01 / 100)
        #expect(try s.rate(step: 50) == 0.01 * 0.5)
        #expect(try s.rate(step: 100) == 0.01)
        #expect(try s.rate(step: 400) == 0.01 * 0.5)
        #expect(try LearningRateSchedule(peak: 0.5, warmupSteps: 0).rate(step: 4) == 0.25)
        #expect(throws: LabError.self) { try s.rate(step: 0) }
        #expect(throws: LabError.self) { try LearningRateSchedule(peak: .nan) }
        #expect(throws: LabError.self) { try LearningRateSchedule(warmupSteps: -1) }
    }

    /// Two AdamW steps on one parameter, against the update written out by hand (PyTorch's order:
    /// decay first, then the bias-corrected Adam step), each operation rounded once.
    @Test("AdamW: two steps as the formulas give them")
    func adamW() throws {
        let sched = try LearningRateSchedule(peak: 0.1, warmupSteps: 0)
        let o = try AdamW.Options(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, schedule: sched)
        var opt = AdamW(options: o, like: [[0]])
        var p: [[Double]] = [[1]]
        try opt.update(&p, gradient: [[0.5]])
        var theta = 1.0
        theta -= 0.1 * 0.01 * theta
        var m = (1 - 0.9) * 0.5
        var v = (1 - 0.999) * 0.25
        theta -= 0.1 * (m / (1 - 0.9)) / ((v / (1 - 0.999)).squareRoot() + 1e-8)
        #expect(p[0][0] == theta)
        try opt.update(&p, gradient: [[-0.25]])
        let lr2 = 0.1 / 2.0.squareRoot()
        theta -= lr2 * 0.01 * theta
        m = 0.9 * m + (1 - 0.9) * -0.25
        v = 0.999 * v + (1 - 0.999) * 0.0625
        theta -= lr2 * (m / (1 - 0.9 * 0.9)) / ((v / (1 - 0.999 * 0.999)).squareRoot() + 1e-8)
        // The library raises β to the power t with pow; written out here as products: at most one
        // rounding apart in 1 − β², which moves the result by a few units in its last place.
        #expect(abs(p[0][0] - theta) <= 8 * Double.ulpOfOne * abs(theta))
        #expect(opt.step == 2)
        #expect(throws: LabError.nonFinite(what: "gradient tensor 0", index: 0)) {
            try opt.update(&p, gradient: [[.nan]])
        }
        #expect(opt.step == 2)
        #expect(throws: LabError.self) { try AdamW.Options(beta1: 1) }
        #expect(throws: LabError.self) { try AdamW.Options(epsilon: 0) }
        #expect(throws: LabError.self) { try AdamW.Options(weightDecay: -0.1) }
    }

    /// BLAS products with transposes and in-place column offsets against the triple loop. Both
    /// sides sum k = 5 products; each is within γ_k·Σ|a||b| of the exact value (Higham, 3.5), so
    /// they differ by at most 2γ_k·Σ|a||b| with γ_k = k·u/(1 − k·u).
    @Test("BLAS matmul against the triple loop, all transposes")
    func blas() throws {
        var data = TestData(seed: 3)
        let (m, n, k) = (3, 4, 5)
        let a = data.normals(m * k)
        let b = data.normals(k * n)
        func at(_ x: [Double], _ rows: Int, _ cols: Int) -> [Double] {
            (0..<(rows * cols)).map { i in x[(i % rows) * cols + i / rows] }  // the transpose, cols × rows
        }
        let u = Double.ulpOfOne / 2
        let gamma = Double(k) * u / (1 - Double(k) * u)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let c = try BLAS.matmul(
                ta ? at(a, m, k) : a, tb ? at(b, k, n) : b, m: m, n: n, k: k, transA: ta, transB: tb)
            for i in 0..<m {
                for j in 0..<n {
                    let terms = (0..<k).map { a[i * k + $0] * b[$0 * n + j] }
                    let bound = 2 * gamma * terms.reduce(0) { $0 + abs($1) }
                    #expect(abs(c[i * n + j] - terms.reduce(0, +)) <= bound, "transA \(ta), transB \(tb)")
                }
            }
        }
        var c = [Double](repeating: 0, count: 4)
        #expect(throws: LabError.self) {
            try BLAS.gemm(
                m: 2, n: 2, k: 2, a, .init(offset: 14, leading: 2), b, .init(leading: 2), into: &c, .init(leading: 2))
        }
    }
}
