import UnifiedNormalization

/// A stack of pre-norm ``TransformerBlock``s followed by a final norm `N_f` (the pre-norm
/// arrangement's final normalization before the head): `out = N_f(block_L(… block_1(x)))`.
///
/// Shapes: `x` and `out` are `B × T × d`, the padding mask `B × T` (`true` = padded).
public struct TransformerEncoder<Norm: NormalizationLayer>: Sendable where Norm.Scalar == Double {
    public internal(set) var blocks: [TransformerBlock<Norm>]
    public internal(set) var finalNorm: Norm
    /// Whether attention is causal (the language model) or bidirectional (the ViT).
    public let causal: Bool
    private var finalStatistics: NormStepStatistics?
    /// When true, each training forward records what every norm saw (``lastStatistics``).
    var recordsStatistics = false {
        didSet { for i in blocks.indices { blocks[i].recordsStatistics = recordsStatistics } }
    }
    /// The last training forward's statistics of every norm's input, in the order block 1's `N₁`,
    /// `N₂`, block 2's …, the final norm (empty unless recorded).
    public var lastStatistics: [NormStepStatistics] {
        blocks.flatMap(\.lastStatistics) + (finalStatistics.map { [$0] } ?? [])
    }
    public var width: Int { finalNorm.channels }

    public struct Cache: Sendable {
        let blocks: [TransformerBlock<Norm>.Cache]
        let final: Norm.Cache
    }

    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` unless all blocks have the final norm's width.
    public init(blocks: [TransformerBlock<Norm>], finalNorm: Norm, causal: Bool) throws {
        for b in blocks where b.attention.width != finalNorm.channels {
            throw LabError.shapeMismatch(
                what: "block width", expected: [finalNorm.channels], actual: [b.attention.width])
        }
        self.blocks = blocks
        self.finalNorm = finalNorm
        self.causal = causal
    }

    /// `layers` blocks of width `d` with `heads` heads; every norm made by `makeNorm(d)`.
    /// - Throws: ``LabError`` for a bad size, or whatever `makeNorm` throws (as ``LabError/normalization(_:)``).
    public init(
        width d: Int, heads: Int, layers: Int, causal: Bool, makeNorm: (Int) throws -> Norm,
        using rng: inout LabRandom
    ) throws {
        try requirePositive(layers, "layers", atMost: 64)
        var blocks: [TransformerBlock<Norm>] = []
        for _ in 0..<layers {
            let n1 = try normalizing { try makeNorm(d) }
            let att = try MultiHeadAttention(width: d, heads: heads, using: &rng)
            let n2 = try normalizing { try makeNorm(d) }
            blocks.append(
                try TransformerBlock(norm1: n1, attention: att, norm2: n2, mlp: FeedForward(width: d, using: &rng)))
        }
        try self.init(blocks: blocks, finalNorm: try normalizing { try makeNorm(d) }, causal: causal)
    }

    /// Training forward.
    /// - Throws: ``LabError`` for wrong shapes or a norm's error.
    public mutating func forward(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?) throws
        -> (output: [Double], cache: Cache)
    {
        var h = x
        var caches: [TransformerBlock<Norm>.Cache] = []
        for i in blocks.indices {
            let (y, c) = try blocks[i].forward(h, batch: batch, tokens: tokens, padMask: padMask, causal: causal)
            h = y
            caches.append(c)
        }
        let (out, cf) = try finalNorm.labForwardTraining(h, batch: batch, tokens: tokens, padMask: padMask)
        if recordsStatistics {
            finalStatistics = NormStepStatistics.observe(
                h, channels: width, padMask: padMask, cache: cf, as: Norm.self)
        }
        return (out, Cache(blocks: caches, final: cf))
    }

    /// Inference forward (no state change).
    /// - Throws: as ``forward(_:batch:tokens:padMask:)``.
    public func inference(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?) throws -> [Double] {
        var h = x
        for b in blocks { h = try b.inference(h, batch: batch, tokens: tokens, padMask: padMask, causal: causal) }
        return try finalNorm.labForwardInference(h, batch: batch, tokens: tokens, padMask: padMask)
    }

    /// `∂L/∂x` and the parameter gradients in the order of ``parameters``.
    /// - Throws: ``LabError`` for a wrongly sized gradient or a norm's error.
    public mutating func backward(_ dout: [Double], cache: Cache, batch: Int, tokens: Int, padMask: [Bool]?) throws
        -> (input: [Double], parameters: [[Double]])
    {
        // A cache of another model (another depth) would index past its blocks.
        guard cache.blocks.count == blocks.count else {
            throw LabError.shapeMismatch(
                what: "encoder cache blocks", expected: [blocks.count], actual: [cache.blocks.count])
        }
        let gf = try finalNorm.labBackward(dout, cache: cache.final, batch: batch, tokens: tokens, padMask: padMask)
        var g = gf.input
        var grads: [[[Double]]] = []
        for i in blocks.indices.reversed() {
            let r = try blocks[i].backward(g, cache: cache.blocks[i], batch: batch, tokens: tokens, padMask: padMask)
            g = r.input
            grads.append(r.parameters)
        }
        return (g, grads.reversed().flatMap { $0 } + gf.parameters)
    }

    /// Every block's tensors in order, then the final norm's γ and β.
    public var parameters: [[Double]] { blocks.flatMap(\.parameters) + finalNorm.labParameters }

    /// The number of tensors in ``parameters``.
    public var parameterCount: Int { blocks.count * TransformerBlock<Norm>.parameterCount + 2 }

    /// - Throws: ``LabError`` unless `p` matches ``parameters`` in count and sizes, all finite.
    public mutating func setParameters(_ p: ArraySlice<[Double]>) throws {
        guard p.count == parameterCount else {
            throw LabError.shapeMismatch(what: "encoder parameters", expected: [parameterCount], actual: [p.count])
        }
        var copy = self
        var s = p.startIndex
        for i in copy.blocks.indices {
            try copy.blocks[i].setParameters(p[s..<(s + TransformerBlock<Norm>.parameterCount)])
            s += TransformerBlock<Norm>.parameterCount
        }
        try copy.finalNorm.setLabParameters(p[s..<(s + 2)])
        self = copy
    }
}
