import RealModule

/// Multi-head softmax attention (Vaswani et al. 2017, arXiv:1706.03762, section 3.2):
/// per sequence and head `h`, `O_h = softmax(Q_h K_hᵀ / √d_head + M) V_h` with
/// `Q = X·W_q + b_q`, `K = X·W_k + b_k`, `V = X·W_v + b_v`, and `Y = [O_1 … O_H]·W_o + b_o`.
///
/// Shapes: `X` and `Y` are `B × T × d` row-major (`B` sequences of `T` tokens, `d = width`),
/// `d_head = d / heads`. The mask `M` is `0` or `−∞`: key `j` is excluded for query `i` when
/// `j` is a padded token of the sequence (key-padding mask) or, with `causal`, when `j > i`.
/// Excluded keys get probability exactly 0 (they are skipped, not added as a large negative
/// number). A query that sees no key at all (a causal query whose earlier keys are all padded)
/// gets a zero output, a constant, so its gradient is 0. Products through BLAS.
public struct MultiHeadAttention: Sendable, Equatable {
    public let heads: Int
    public internal(set) var query: Dense
    public internal(set) var key: Dense
    public internal(set) var value: Dense
    public internal(set) var output: Dense
    public var width: Int { query.inputs }
    public var headWidth: Int { width / heads }

    /// Test hook: a relative error planted in the score gradient `∂L/∂S` of head 0, so that a test
    /// can show the gradient checker catching a wrong attention backward. 0 (off) outside tests.
    var plantedScoreGradientError: Double = 0

    public struct Cache: Sendable {
        let x: [Double]
        let q: [Double]
        let k: [Double]
        let v: [Double]
        /// Probabilities, `B × H × T × T`.
        let p: [Double]
        let context: [Double]
        let batch: Int
        let tokens: Int
    }

    public struct Gradients: Sendable, Equatable {
        public var input: [Double]
        public var query: Dense.Gradients
        public var key: Dense.Gradients
        public var value: Dense.Gradients
        public var output: Dense.Gradients
        /// `∂L/∂K` (`B·T × d`), kept for the tests: `∂L/∂b_k = Σ_rows ∂L/∂K` is exactly 0 (a key
        /// bias shifts every score of a query by the same `q·b_k`, and softmax ignores such shifts),
        /// so it is rounding alone, and it is judged relative to the sizes of these terms.
        var keyGradient: [Double] = []
    }

    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` unless `heads`
    ///   divides the width and all four projections are `d → d`.
    public init(heads: Int, query: Dense, key: Dense, value: Dense, output: Dense) throws {
        let d = query.inputs
        for (name, p) in [("query", query), ("key", key), ("value", value), ("output", output)]
        where p.inputs != d || p.outputs != d {
            throw LabError.shapeMismatch(what: "\(name) projection", expected: [d, d], actual: [p.inputs, p.outputs])
        }
        guard heads >= 1, d % heads == 0 else {
            throw LabError.invalidConfiguration(
                parameter: "heads", value: "\(heads)", requirement: "must be ≥ 1 and divide the width \(d)")
        }
        self.heads = heads
        self.query = query
        self.key = key
        self.value = value
        self.output = output
    }

    /// Projections with PyTorch's default `nn.Linear` initialization.
    public init(width d: Int, heads: Int, using rng: inout LabRandom) throws {
        try requirePositive(d, "width", atMost: 1 << 16)
        try self.init(
            heads: heads, query: Dense(inputs: d, outputs: d, using: &rng),
            key: Dense(inputs: d, outputs: d, using: &rng),
            value: Dense(inputs: d, outputs: d, using: &rng), output: Dense(inputs: d, outputs: d, using: &rng))
    }

    /// Whether key `j` is visible to query `i` of sequence `b`.
    @inline(__always)
    static func visible(_ b: Int, _ i: Int, _ j: Int, tokens t: Int, padMask: [Bool]?, causal: Bool) -> Bool {
        if causal && j > i { return false }
        if let m = padMask, m[b * t + j] { return false }
        return true
    }

    /// - Parameters:
    ///   - x: `batch × tokens × width`.
    ///   - padMask: `batch × tokens` flags, `true` = padded (excluded as a key); `nil`: all real.
    ///   - causal: also exclude later keys.
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` for a wrongly sized `x` or mask.
    public func forward(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?, causal: Bool) throws
        -> (output: [Double], cache: Cache)
    {
        let rows = try checkedProduct(batch, tokens, "attention rows")
        if let m = padMask, m.count != rows {
            throw LabError.shapeMismatch(what: "padMask", expected: [batch, tokens], actual: [m.count])
        }
        let d = width
        let dh = headWidth
        let t = tokens
        let q = try query.forward(x, rows: rows)
        let k = try key.forward(x, rows: rows)
        let v = try value.forward(x, rows: rows)
        let scale = 1 / Double(dh).squareRoot()
        // B·H·T·T probabilities, bounded like every tensor made from sizes.
        var p = [Double](
            repeating: 0,
            count: try tensorEntries(try checkedProduct(rows, heads, "attention"), t, "attention probabilities"))
        var context = [Double](repeating: 0, count: rows * d)
        var s = [Double](repeating: 0, count: t * t)
        for b in 0..<batch {
            for h in 0..<heads {
                let off = b * t * d + h * dh
                try BLAS.gemm(
                    m: t, n: t, k: dh, alpha: scale, q, .init(offset: off, leading: d), k,
                    .init(offset: off, leading: d, transposed: true), into: &s, .init(leading: t))
                let base = (b * heads + h) * t * t
                // Scores beyond the range (q·k of 1e200-sized activations) would make the softmax NaN.
                if let i = s.firstIndex(where: { !$0.isFinite }) {
                    throw LabError.nonFinite(what: "attention scores (beyond the range)", index: i)
                }
                for i in 0..<t {
                    // Softmax over the visible keys, shifted by their maximum (no overflow).
                    var top = -Double.infinity
                    for j in 0..<t where Self.visible(b, i, j, tokens: t, padMask: padMask, causal: causal) {
                        top = max(top, s[i * t + j])
                    }
                    guard top > -.infinity else { continue }
                    var sum = 0.0
                    for j in 0..<t where Self.visible(b, i, j, tokens: t, padMask: padMask, causal: causal) {
                        let e = Double.exp(s[i * t + j] - top)
                        p[base + i * t + j] = e
                        sum += e
                    }
                    for j in 0..<t { p[base + i * t + j] /= sum }
                }
                try BLAS.gemm(
                    m: t, n: dh, k: t, p, .init(offset: base, leading: t), v, .init(offset: off, leading: d),
                    into: &context, .init(offset: off, leading: d))
            }
        }
        let y = try output.forward(context, rows: rows)
        return (y, Cache(x: x, q: q, k: k, v: v, p: p, context: context, batch: batch, tokens: t))
    }

    /// The exact gradient: with `G = ∂L/∂O_h`, `∂L/∂P = G V_hᵀ`, `∂L/∂V_h = Pᵀ G`,
    /// `∂L/∂S = P ⊙ (∂L/∂P − rowsum(P ⊙ ∂L/∂P))` (excluded keys have `P = 0`, so they get none),
    /// `∂L/∂Q_h = ∂L/∂S K_h / √d_head`, `∂L/∂K_h = ∂L/∂Sᵀ Q_h / √d_head`, then the projections.
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` for a wrongly sized gradient.
    public func backward(_ dy: [Double], cache c: Cache) throws -> Gradients {
        let d = width
        let dh = headWidth
        let t = c.tokens
        let rows = c.batch * t
        // A cache of another attention (other heads or width) has other sizes: refused, never read.
        guard c.p.count == rows * heads * t, c.q.count == rows * d, c.context.count == rows * d else {
            throw LabError.shapeMismatch(
                what: "attention cache (probabilities)", expected: [c.batch, heads, t, t], actual: [c.p.count])
        }
        let go = try output.backward(dy, input: c.context, rows: rows)
        let dctx = go.input
        let scale = 1 / Double(dh).squareRoot()
        var dq = [Double](repeating: 0, count: rows * d)
        var dk = dq
        var dv = dq
        var dp = [Double](repeating: 0, count: t * t)
        for b in 0..<c.batch {
            for h in 0..<heads {
                let off = b * t * d + h * dh
                let base = (b * heads + h) * t * t
                try BLAS.gemm(
                    m: t, n: t, k: dh, dctx, .init(offset: off, leading: d), c.v,
                    .init(offset: off, leading: d, transposed: true), into: &dp, .init(leading: t))
                try BLAS.gemm(
                    m: t, n: dh, k: t, c.p, .init(offset: base, leading: t, transposed: true), dctx,
                    .init(offset: off, leading: d), into: &dv, .init(offset: off, leading: d))
                let planted = h == 0 ? 1 + plantedScoreGradientError : 1
                for i in 0..<t {
                    var dot = 0.0
                    for j in 0..<t { dot += c.p[base + i * t + j] * dp[i * t + j] }
                    for j in 0..<t { dp[i * t + j] = planted * c.p[base + i * t + j] * (dp[i * t + j] - dot) }
                }
                try BLAS.gemm(
                    m: t, n: dh, k: t, alpha: scale, dp, .init(leading: t), c.k, .init(offset: off, leading: d),
                    into: &dq, .init(offset: off, leading: d))
                try BLAS.gemm(
                    m: t, n: dh, k: t, alpha: scale, dp, .init(leading: t, transposed: true), c.q,
                    .init(offset: off, leading: d), into: &dk, .init(offset: off, leading: d))
            }
        }
        let gq = try query.backward(dq, input: c.x, rows: rows)
        let gk = try key.backward(dk, input: c.x, rows: rows)
        let gv = try value.backward(dv, input: c.x, rows: rows)
        var dx = gq.input
        for i in 0..<dx.count { dx[i] += gk.input[i] + gv.input[i] }
        return Gradients(input: dx, query: gq, key: gk, value: gv, output: go, keyGradient: dk)
    }
}
