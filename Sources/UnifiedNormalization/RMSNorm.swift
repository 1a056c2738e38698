/// RMSNorm: per token, `z = x / sqrt(mean_c x² + ε)`, `y = γ ⊙ z + β` (`β` defaults to 0).
///
/// Like LayerNorm its statistic is per token, so it cannot be folded into a linear layer.
public struct RMSNorm<Scalar: NormScalar>: NormalizationLayer {
    /// The forward's input (shared with the caller's array, not copied) and per-token scales:
    /// the backward recomputes `z` from them.
    public struct Cache: Sendable {
        let x: [Scalar]
        let scale: [Scalar]
        let shape: [Int]
    }

    public let channels: Int
    public let eps: Scalar
    public private(set) var weight: [Scalar]
    public private(set) var bias: [Scalar]
    public var name: String { "RMSNorm" }

    public init(channels: Int, eps: Scalar = 1e-5, weight: [Scalar]? = nil, bias: [Scalar]? = nil) throws {
        try ConfigurationCheck.channels(channels)
        try ConfigurationCheck.eps(eps)
        let w = weight ?? Array(repeating: 1, count: channels)
        let b = bias ?? Array(repeating: 0, count: channels)
        try Self.validatedAffine(w, b, channels: channels)
        self.channels = channels
        self.eps = eps
        self.weight = w
        self.bias = b
    }

    public mutating func setAffine(weight: [Scalar], bias: [Scalar]) throws {
        try Self.validatedAffine(weight, bias, channels: channels)
        self.weight = weight
        self.bias = bias
    }

    private func normalize(_ x: TokenBatch<Scalar>) throws -> (TokenBatch<Scalar>, Cache) {
        var storage = [Scalar]()
        return try normalize(x, reusing: &storage)
    }

    /// The forward, with `y` written into `storage`'s buffer where it fits (see ``forwardInference(_:into:)``).
    private func normalize(_ x: TokenBatch<Scalar>, reusing storage: inout [Scalar]) throws -> (
        TokenBatch<Scalar>, Cache
    ) {
        try x.validatedShape(channels: channels)
        var r = TokenwiseNormalization.forward(
            x.values, rows: x.rows, channels: channels, groupSize: channels, centered: false, eps: eps,
            weight: weight, bias: bias, keepZ: false, reusing: &storage)
        if let i = r.firstNonFinite { throw NormalizationError.nonFinite(what: "input", index: i) }
        if r.firstOverflow != nil {
            r.y = try TokenwiseNormalization.rangeSafeAffine(x, centered: false, eps: eps, weight, bias)
        }
        return (x.withUnchecked(values: r.y), Cache(x: x.values, scale: r.scale, shape: x.shape))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forwardInference(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws {
        try output.overwrite { try normalize(x, reusing: &$0).0 }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func forwardTraining(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws
        -> Cache
    {
        try output.overwrite { try normalize(x, reusing: &$0) }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func backward(
        _ dy: TokenBatch<Scalar>, cache: Cache, into gradients: inout NormGradients<Scalar>
    ) throws {
        try gradients.overwrite { try backward(dy, cache: cache, reusing: &$0) }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func forwardTraining(_ x: TokenBatch<Scalar>) throws -> (output: TokenBatch<Scalar>, cache: Cache) {
        try normalize(x)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forwardInference(_ x: TokenBatch<Scalar>) throws -> TokenBatch<Scalar> { try normalize(x).0 }

    /// Exact gradient: `∂L/∂x = (G − z ⊙ mean_c(G ⊙ z)) / s`, `G = γ ⊙ ∂L/∂Y`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func backward(_ dy: TokenBatch<Scalar>, cache: Cache) throws -> NormGradients<Scalar> {
        var storage = [Scalar]()
        return try backward(dy, cache: cache, reusing: &storage)
    }

    private func backward(_ dy: TokenBatch<Scalar>, cache: Cache, reusing storage: inout [Scalar]) throws
        -> NormGradients<Scalar>
    {
        guard dy.shape == cache.shape else {
            throw NormalizationError.staleCache(reason: "gradient shape \(dy.shape) vs forward \(cache.shape)")
        }
        try dy.validatedShape(channels: channels)
        let r = TokenwiseNormalization.backward(
            dy.values, weight: weight, input: cache.x, rows: dy.rows, channels: channels, groupSize: channels,
            centered: false, eps: eps, scale: cache.scale, reusing: &storage)
        return try TokenwiseNormalization.checkedGradients(
            r, dy: dy, input: cache.x, channels: channels, centered: false, eps: eps)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func inferenceAffine() throws -> ChannelAffine<Scalar> {
        throw NormalizationError.notFoldable(
            layer: name, reason: "its root mean square is computed per token at run time")
    }
}
