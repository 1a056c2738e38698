import UnifiedNormalization

/// A character- or byte-level language model: token embedding, learned position embedding, a
/// causal pre-norm ``TransformerEncoder`` (key-padding and causal masks), a ``Dense`` head
/// `d → vocabulary` at every position, trained by the mean cross-entropy of the next token over
/// the real positions (Radford et al.'s decoder-only arrangement on Vaswani et al. 2017's blocks).
///
/// Shapes: a ``LanguageBatch`` of `B × T`; logits `B × T × vocabulary`.
public struct ByteLanguageModel<Norm: NormalizationLayer>: Sendable where Norm.Scalar == Double {
    public let vocabulary: Int
    public internal(set) var embedding: TokenEmbedding
    public internal(set) var positions: PositionEmbedding
    public internal(set) var encoder: TransformerEncoder<Norm>
    public internal(set) var head: Dense
    public var width: Int { encoder.width }
    /// The longest input a batch may have (`T ≤ contextLength`).
    public var contextLength: Int { positions.positions }

    public struct Cache: Sendable {
        let encoder: TransformerEncoder<Norm>.Cache
        let hidden: [Double]
    }

    /// - Parameters:
    ///   - vocabulary: number of token ids (256 for bytes).
    ///   - contextLength: the most input positions a batch may have.
    ///   - makeNorm: makes every norm for `width` channels.
    /// - Throws: ``LabError`` for a bad size, ``LabError/normalization(_:)`` from `makeNorm`.
    public init(
        vocabulary: Int = 256, contextLength: Int, width: Int, heads: Int, layers: Int,
        makeNorm: (Int) throws -> Norm, using rng: inout LabRandom
    ) throws {
        self.vocabulary = vocabulary
        embedding = try TokenEmbedding(vocabulary: vocabulary, width: width, using: &rng)
        positions = try PositionEmbedding(positions: contextLength, width: width, using: &rng)
        encoder = try TransformerEncoder(
            width: width, heads: heads, layers: layers, causal: true, makeNorm: makeNorm, using: &rng)
        head = try Dense(inputs: width, outputs: vocabulary, using: &rng)
    }

    func embed(_ b: LanguageBatch) throws -> [Double] {
        var x = try embedding.lookup(b.inputs)
        try positions.add(to: &x, batch: b.batch, tokens: b.tokens)
        return x
    }

    /// Training forward: logits `B × T × vocabulary` (the norms may advance their state).
    /// - Throws: ``LabError`` for a token id outside the vocabulary, a batch longer than the
    ///   context, or a norm's error.
    public mutating func forward(_ b: LanguageBatch) throws -> (logits: [Double], cache: Cache) {
        let x = try embed(b)
        let (h, ce) = try encoder.forward(x, batch: b.batch, tokens: b.tokens, padMask: b.padMask)
        return (try head.forward(h, rows: b.batch * b.tokens), Cache(encoder: ce, hidden: h))
    }

    /// Inference logits (norms in inference mode; no state change).
    /// - Throws: as ``forward(_:)``.
    public func inference(_ b: LanguageBatch) throws -> [Double] {
        let h = try encoder.inference(embed(b), batch: b.batch, tokens: b.tokens, padMask: b.padMask)
        return try head.forward(h, rows: b.batch * b.tokens)
    }

    /// Parameter gradients (order of ``parameters``) from `∂L/∂logits`.
    /// - Throws: ``LabError`` for a wrongly sized gradient or a norm's error.
    public mutating func backward(_ dlogits: [Double], cache: Cache, batch b: LanguageBatch) throws -> [[Double]] {
        let gh = try head.backward(dlogits, input: cache.hidden, rows: b.batch * b.tokens)
        let ge = try encoder.backward(
            gh.input, cache: cache.encoder, batch: b.batch, tokens: b.tokens, padMask: b.padMask)
        let demb = try embedding.gradient(ge.input, ids: b.inputs)
        let dpos = try positions.gradient(ge.input, batch: b.batch, tokens: b.tokens)
        return [demb, dpos] + ge.parameters + [gh.weight, gh.bias]
    }

    /// Mean next-token cross-entropy over the real positions (nats), and its gradient.
    /// - Throws: as ``forward(_:)``; ``LabError/indexOutOfRange(what:index:value:range:)`` for a bad target.
    public mutating func lossAndGradient(_ b: LanguageBatch) throws -> (loss: Double, gradient: [[Double]]) {
        let (logits, cache) = try forward(b)
        let (loss, dl) = try CrossEntropy.loss(
            logits: logits, classes: vocabulary, targets: b.targets, ignore: b.padMask)
        return (loss, try backward(dl, cache: cache, batch: b))
    }

    /// The loss alone, through the training forward.
    /// - Throws: as ``lossAndGradient(_:)``.
    public mutating func loss(_ b: LanguageBatch) throws -> Double {
        let logits = try forward(b).logits
        return try CrossEntropy.loss(logits: logits, classes: vocabulary, targets: b.targets, ignore: b.padMask).loss
    }

    /// Embedding table, position table, the encoder's tensors, head `W, b`.
    public var parameters: [[Double]] {
        [embedding.table, positions.table] + encoder.parameters + [head.weight, head.bias]
    }

    /// - Throws: ``LabError`` unless `p` matches ``parameters`` in count and sizes, all finite.
    public mutating func setParameters(_ p: [[Double]]) throws {
        try ParameterTensors.validate(p[...], like: parameters, "language model")
        var m = self
        try m.embedding.set(p[0])
        try m.positions.set(p[1])
        try m.encoder.setParameters(p[2..<(p.count - 2)])
        try m.head.setParameters(weight: p[p.count - 2], bias: p[p.count - 1])
        self = m
    }
}
