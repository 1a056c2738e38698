import UnifiedNormalization

/// One pre-norm Transformer block: `h = x + Attn(N₁(x))`, `out = h + MLP(N₂(h))`
/// (the pre-LN arrangement of Xiong et al. 2020; attention and MLP of Vaswani et al. 2017,
/// arXiv:1706.03762). `N₁`, `N₂` are any layer of the numeric module; no dropout.
///
/// Shapes: `x` and `out` are `B × T × d`; the padding mask (`B × T`, `true` = padded) excludes
/// padded tokens as attention keys and from the norms' statistics.
public struct TransformerBlock<Norm: NormalizationLayer>: Sendable where Norm.Scalar == Double {
    public internal(set) var norm1: Norm
    public internal(set) var attention: MultiHeadAttention
    public internal(set) var norm2: Norm
    public internal(set) var mlp: FeedForward
    /// When true, each training forward records what `N₁` and `N₂` saw (``lastStatistics``).
    var recordsStatistics = false
    /// The last training forward's statistics of `N₁`'s and `N₂`'s inputs (empty unless recorded).
    public internal(set) var lastStatistics: [NormStepStatistics] = []

    public struct Cache: Sendable {
        let n1: Norm.Cache
        let attention: MultiHeadAttention.Cache
        let n2: Norm.Cache
        let mlp: FeedForward.Cache
    }

    /// Parameter tensors in this order: `N₁` (γ, β), `W_q, b_q, W_k, b_k, W_v, b_v, W_o, b_o`,
    /// `N₂` (γ, β), MLP `W₁, b₁, W₂, b₂`.
    public static var parameterCount: Int { 16 }

    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` unless every part has width `d`.
    public init(norm1: Norm, attention: MultiHeadAttention, norm2: Norm, mlp: FeedForward) throws {
        let d = attention.width
        guard norm1.channels == d, norm2.channels == d, mlp.width == d else {
            throw LabError.shapeMismatch(
                what: "block widths", expected: [d, d, d], actual: [norm1.channels, norm2.channels, mlp.width])
        }
        self.norm1 = norm1
        self.attention = attention
        self.norm2 = norm2
        self.mlp = mlp
    }

    /// Training forward (the norms may advance their state).
    /// - Throws: ``LabError`` for wrong shapes, or ``LabError/normalization(_:)`` from a norm.
    public mutating func forward(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?, causal: Bool) throws
        -> (output: [Double], cache: Cache)
    {
        let rows = try checkedProduct(batch, tokens, "block rows")
        let (a, c1) = try norm1.labForwardTraining(x, batch: batch, tokens: tokens, padMask: padMask)
        let (att, ca) = try attention.forward(a, batch: batch, tokens: tokens, padMask: padMask, causal: causal)
        let h = zip(x, att).map(+)
        let (b, c2) = try norm2.labForwardTraining(h, batch: batch, tokens: tokens, padMask: padMask)
        let (m, cm) = try mlp.forward(b, rows: rows)
        if recordsStatistics {
            let d = attention.width
            lastStatistics = [
                NormStepStatistics.observe(x, channels: d, padMask: padMask, cache: c1, as: Norm.self),
                NormStepStatistics.observe(h, channels: d, padMask: padMask, cache: c2, as: Norm.self),
            ]
        }
        return (zip(h, m).map(+), Cache(n1: c1, attention: ca, n2: c2, mlp: cm))
    }

    /// Inference forward (norms in inference mode, no state change).
    /// - Throws: as ``forward(_:batch:tokens:padMask:causal:)``.
    public func inference(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?, causal: Bool) throws -> [Double] {
        let rows = try checkedProduct(batch, tokens, "block rows")
        let a = try norm1.labForwardInference(x, batch: batch, tokens: tokens, padMask: padMask)
        let att = try attention.forward(a, batch: batch, tokens: tokens, padMask: padMask, causal: causal).output
        let h = zip(x, att).map(+)
        let b = try norm2.labForwardInference(h, batch: batch, tokens: tokens, padMask: padMask)
        return zip(h, try mlp.forward(b, rows: rows).output).map(+)
    }

    /// `∂L/∂x` and the parameter gradients in the order of ``parameters``.
    /// - Throws: ``LabError`` for a wrongly sized gradient or a norm's error.
    public mutating func backward(_ dout: [Double], cache: Cache, batch: Int, tokens: Int, padMask: [Bool]?) throws
        -> (input: [Double], parameters: [[Double]])
    {
        let gm = try mlp.backward(dout, cache: cache.mlp)
        let g2 = try norm2.labBackward(gm.input, cache: cache.n2, batch: batch, tokens: tokens, padMask: padMask)
        let dh = zip(dout, g2.input).map(+)
        let ga = try attention.backward(dh, cache: cache.attention)
        let g1 = try norm1.labBackward(ga.input, cache: cache.n1, batch: batch, tokens: tokens, padMask: padMask)
        let dx = zip(dh, g1.input).map(+)
        let att = [ga.query, ga.key, ga.value, ga.output].flatMap { [$0.weight, $0.bias] }
        return (dx, g1.parameters + att + g2.parameters + [gm.up.weight, gm.up.bias, gm.down.weight, gm.down.bias])
    }

    /// The parameter tensors (see ``parameterCount`` for the order).
    public var parameters: [[Double]] {
        let a = attention
        return norm1.labParameters + [a.query, a.key, a.value, a.output].flatMap { [$0.weight, $0.bias] }
            + norm2.labParameters + [mlp.up.weight, mlp.up.bias, mlp.down.weight, mlp.down.bias]
    }

    /// - Throws: ``LabError`` unless `p` has ``parameterCount`` tensors of the right sizes, all finite.
    public mutating func setParameters(_ p: ArraySlice<[Double]>) throws {
        guard p.count == Self.parameterCount else {
            throw LabError.shapeMismatch(what: "block parameters", expected: [Self.parameterCount], actual: [p.count])
        }
        let s = p.startIndex
        var n1 = norm1
        var n2 = norm2
        var a = attention
        var f = mlp
        try n1.setLabParameters(p[s..<(s + 2)])
        try a.query.setParameters(weight: p[s + 2], bias: p[s + 3])
        try a.key.setParameters(weight: p[s + 4], bias: p[s + 5])
        try a.value.setParameters(weight: p[s + 6], bias: p[s + 7])
        try a.output.setParameters(weight: p[s + 8], bias: p[s + 9])
        try n2.setLabParameters(p[(s + 10)..<(s + 12)])
        try f.up.setParameters(weight: p[s + 12], bias: p[s + 13])
        try f.down.setParameters(weight: p[s + 14], bias: p[s + 15])
        (norm1, norm2, attention, mlp) = (n1, n2, a, f)
    }
}
