/// BatchNorm over tokens: per channel, statistics over the real tokens of the batch,
/// `z = (x − μ) / sqrt(v + ε)` (biased variance `v`), `y = γ ⊙ z + β`.
///
/// Training updates `runningMean ← α·runningMean + (1−α)·μ` and
/// `runningVar ← α·runningVar + (1−α)·v·T/(T−1)` (unbiased, as PyTorch does; `α` is the weight
/// of the old value, PyTorch's `1 − momentum`). Inference uses the running statistics and is
/// therefore a per-channel affine map.
public struct BatchNorm<Scalar: NormScalar>: NormalizationLayer {
    public struct Cache: Sendable {
        let z: [Scalar]
        let scale: [Scalar]
        let shape: [Int]
        let realTokens: Int
    }

    public let channels: Int
    public let eps: Scalar
    public let momentum: Scalar
    public private(set) var weight: [Scalar]
    public private(set) var bias: [Scalar]
    public private(set) var runningMean: [Scalar]
    public private(set) var runningVar: [Scalar]
    public var name: String { "BatchNorm" }

    public init(
        channels: Int, eps: Scalar = 1e-5, momentum: Scalar = 0.9,
        weight: [Scalar]? = nil, bias: [Scalar]? = nil
    ) throws {
        try ConfigurationCheck.channels(channels)
        try ConfigurationCheck.eps(eps)
        try ConfigurationCheck.momentum(momentum)
        let w = weight ?? Array(repeating: 1, count: channels)
        let b = bias ?? Array(repeating: 0, count: channels)
        try Self.validatedAffine(w, b, channels: channels)
        self.channels = channels
        self.eps = eps
        self.momentum = momentum
        self.weight = w
        self.bias = b
        self.runningMean = Array(repeating: 0, count: channels)
        self.runningVar = Array(repeating: 1, count: channels)
    }

    public mutating func setAffine(weight: [Scalar], bias: [Scalar]) throws {
        try Self.validatedAffine(weight, bias, channels: channels)
        self.weight = weight
        self.bias = bias
    }

    /// Sets the running statistics (for inference from a trained state).
    public mutating func setRunningStatistics(mean: [Scalar], variance: [Scalar]) throws {
        try requireCount(mean, channels, "runningMean")
        try requireCount(variance, channels, "runningVar")
        try requireFinite(mean, "runningMean")
        try requireFinite(variance, "runningVar")
        if let i = variance.firstIndex(where: { $0 < 0 }) {
            throw NormalizationError.invalidConfiguration(
                parameter: "runningVar[\(i)]", value: "\(variance[i])", requirement: "must be ≥ 0")
        }
        runningMean = mean
        runningVar = variance
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func forwardTraining(_ x: TokenBatch<Scalar>) throws -> (output: TokenBatch<Scalar>, cache: Cache) {
        try x.validatedForStatistics(channels: channels)
        let t = x.realTokenCount
        let (mu, v, s) = RowKernels.columnMoments(
            x.values, rows: x.rows, channels: channels, mask: x.padMask, centered: true, eps: Double(eps))
        // A variance beyond the type's range is not representable: a typed error, before any state changes.
        if let c = v.firstIndex(where: { !$0.isFinite }) {
            throw NormalizationError.nonFinite(what: "channel variance (overflow)", index: c)
        }
        let z = Self.normalized(x, mean: mu, scale: s)
        let unbias = t > 1 ? Scalar(t) / Scalar(t - 1) : 1
        // The running statistics are updated only if every new value is finite (never store ∞).
        var newMean = runningMean
        var newVar = runningVar
        for c in 0..<channels {
            newMean[c] = momentum * runningMean[c] + (1 - momentum) * mu[c]
            newVar[c] = momentum * runningVar[c] + ((1 - momentum) * v[c]) * unbias
        }
        if let c = newVar.firstIndex(where: { !$0.isFinite }) {
            throw NormalizationError.nonFinite(what: "running variance (overflow)", index: c)
        }
        // The output first: one beyond the range is a typed error, and the state is then unchanged.
        let y = try AffineOutput.apply(z, weight: weight, bias: bias, like: x)
        runningMean = newMean
        runningVar = newVar
        return (y, Cache(z: z, scale: s, shape: x.shape, realTokens: t))
    }

    /// `z = (x − μ_c)/s_c`, with the operands scaled by a power of two in a channel where `x − μ`
    /// itself could overflow (`|x|`, `|μ|` near the largest finite value), so that a representable `z`
    /// is always computed.
    static func normalized(_ x: TokenBatch<Scalar>, mean mu: [Scalar], scale s: [Scalar]) -> [Scalar] {
        let limit = Scalar.greatestFiniteMagnitude / 4
        let risky = mu.contains { abs($0) >= limit } || x.values.contains { abs($0) >= limit }
        guard risky else { return ChannelReductions.map(x) { i, c in (x.values[i] - mu[c]) / s[c] } }
        return ChannelReductions.map(x) { i, c in
            let d = x.values[i] / 4 - mu[c] / 4
            return d / (s[c] / 4)
        }
    }

    /// Exact gradient with padding: for a real row `i`,
    /// `∂L/∂x_i = (G_i − (Σ_all G + z_i Σ_all G⊙z) / T) / s`; for a padded row `G_i / s`
    /// (padded rows do not enter the statistics but are normalized by them).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func backward(_ dy: TokenBatch<Scalar>, cache: Cache) throws -> NormGradients<Scalar> {
        guard dy.shape == cache.shape else {
            throw NormalizationError.staleCache(reason: "gradient shape \(dy.shape) vs forward \(cache.shape)")
        }
        try dy.validatedShape(channels: channels)
        try requireFinite(dy.values, "gradOutput")
        // Range-safe: sums of huge gradients are formed on gradients scaled by 2^−k (GradientScaling).
        let k = GradientScaling.exponent(dy.values, weight: weight, z: cache.z, rows: dy.rows)
        guard k == 0 else {
            let scaled = dy.withUnchecked(values: GradientScaling.scaled(dy.values, -k))
            return try GradientScaling.scaled(backwardCore(scaled, cache: cache), k)
        }
        return try GradientScaling.scaled(backwardCore(dy, cache: cache), 0)
    }

    private func backwardCore(_ dy: TokenBatch<Scalar>, cache: Cache) -> NormGradients<Scalar> {
        let g = AffineOutput.scaledGradient(dy, weight: weight)
        let t = Scalar(cache.realTokens)
        let sg = ChannelReductions.sum(dy, realOnly: false) { g[$0] }
        let sgz = ChannelReductions.dot(g, cache.z, like: dy, realOnly: false)
        let dx = ChannelReductions.map(dy) { i, c in
            let r = i / channels
            let corr = dy.isReal(row: r) ? (sg[c] + cache.z[i] * sgz[c]) / t : 0
            return (g[i] - corr) / cache.scale[c]
        }
        let p = AffineOutput.parameterGradients(dy, z: cache.z)
        return NormGradients(input: dy.withUnchecked(values: dx), weight: p.weight, bias: p.bias)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forwardInference(_ x: TokenBatch<Scalar>) throws -> TokenBatch<Scalar> {
        try x.validatedShape(channels: channels)
        try requireFinite(x.values, "input")
        do { return try inferenceAffine().apply(x) } catch NormalizationError.nonFinite {
            // The fold a = γ/√(v+ε), b = β − a·μ can leave the range where y = γ(x − μ)/√(v+ε) + β does
            // not (γ = 1e30, v = 0, μ = 1e10 in Float): then y is formed directly, range-safe.
            let s = runningVar.map { RowKernels.rootOfSum($0, eps) }
            let z = Self.normalized(x, mean: runningMean, scale: s)
            let c = channels
            let y = z.indices.map { RowKernels.multiplyAdd(weight[$0 % c], z[$0], bias[$0 % c]) }
            if let i = RowKernels.firstNonFinite(y) {
                throw NormalizationError.nonFinite(what: "output (beyond the range of the type)", index: i)
            }
            return x.withUnchecked(values: y)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func inferenceAffine() throws -> ChannelAffine<Scalar> {
        try ChannelAffine.normalizing(variance: runningVar, eps: eps, weight: weight, bias: bias, mean: runningMean)
    }
}
