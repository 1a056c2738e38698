/// PowerNorm as its authors' code (`MaskPowerNorm`) behaves; the baseline UN descends from.
///
/// Forward, per call (iteration `t`, incremented first):
/// 1. Group scaling: each token is divided by `sqrt(mean x² + ε)` over each of `groups`
///    contiguous channel groups (one group by default), giving `x̃`.
/// 2. `x2` = per-channel mean of `x̃²` over real tokens. While `t ≤ warmup` normalize by
///    `sqrt(x2 + ε)`, afterwards by `sqrt(φ + ε)` with the running `φ` from the previous step.
/// 3. `φ ← φ(t−1)/t + x2/t` while `t < warmup` (a cumulative mean), then always
///    `φ ← α_f φ + (1−α_f) x2`.
///
/// Backward: `g = γ ⊙ ∂L/∂Y`, `a = g − (1−α_b) ν ⊙ z`, `ν ← ν + mean_all(a ⊙ z)`,
/// `∂L/∂x̃ = a / sqrt(x2 + ε)`, then the exact backward of the group scaling.
///
/// Where this departs from the PowerNorm paper's equations (Shen et al. 2020, Alg. 1):
/// - the backward divides by the *current* `sqrt(x2 + ε)` even after warm-up, although the
///   forward then divides by the running `sqrt(φ + ε)`;
/// - the paper's backward `ν` is a running average (`ν ← ν + (1−α_b) mean(...)`); the code adds
///   the whole `mean(a ⊙ z)`;
/// - the group scaling is not in the paper's algorithm; it makes the inference form depend on
///   each token, so with `groups ≥ 1` the layer is *not* a per-channel affine map at inference
///   (`inferenceAffine()` refuses; `affineAfterGroupScaling()` gives the affine part).
/// - the warm-up forward uses current statistics, so in warm-up it is RMS-BatchNorm.
public struct PowerNorm<Scalar: NormScalar>: NormalizationLayer {
    public struct Cache: Sendable {
        let z: [Scalar]
        let x2: [Scalar]
        let scaled: [Scalar]
        let groupScale: [Scalar]
        let shape: [Int]
    }

    public let channels: Int
    public let eps: Scalar
    public let forwardMomentum: Scalar
    public let backwardMomentum: Scalar
    public let warmupIters: Int
    /// Number of channel groups of the per-token scaling; 0 disables it (pure PowerNorm).
    public let groups: Int
    public private(set) var weight: [Scalar]
    public private(set) var bias: [Scalar]
    public private(set) var runningPhi: [Scalar]
    public private(set) var emaGz: [Scalar]
    public private(set) var iters: Int = 0
    public var name: String { "PowerNorm" }

    public init(
        channels: Int, eps: Scalar = 1e-5, forwardMomentum: Scalar = 0.9, backwardMomentum: Scalar = 0.9,
        warmupIters: Int = 10_000, groups: Int = 1, weight: [Scalar]? = nil, bias: [Scalar]? = nil
    ) throws {
        try ConfigurationCheck.channels(channels)
        try ConfigurationCheck.eps(eps)
        try ConfigurationCheck.momentum(forwardMomentum, name: "forwardMomentum")
        try ConfigurationCheck.momentum(backwardMomentum, name: "backwardMomentum")
        try ConfigurationCheck.atLeast(warmupIters, 0, "warmupIters")
        try ConfigurationCheck.atLeast(groups, 0, "groups")
        if groups > 0, channels % groups != 0 {
            throw NormalizationError.invalidConfiguration(
                parameter: "groups", value: "\(groups)", requirement: "must divide channels (\(channels))")
        }
        let w = weight ?? Array(repeating: 1, count: channels)
        let b = bias ?? Array(repeating: 0, count: channels)
        try Self.validatedAffine(w, b, channels: channels)
        self.channels = channels
        self.eps = eps
        self.forwardMomentum = forwardMomentum
        self.backwardMomentum = backwardMomentum
        self.warmupIters = warmupIters
        self.groups = groups
        self.weight = w
        self.bias = b
        self.runningPhi = Array(repeating: 1, count: channels)
        self.emaGz = Array(repeating: 0, count: channels)
    }

    public mutating func setAffine(weight: [Scalar], bias: [Scalar]) throws {
        try Self.validatedAffine(weight, bias, channels: channels)
        self.weight = weight
        self.bias = bias
    }

    /// The run-time part of the inference map that cannot fold: each token divided by the RMS of
    /// its channel group (the authors' group scaling; the identity when `groups == 0`). Inference is
    /// `affineAfterGroupScaling().apply(groupScaling(x))`, so a fold of PowerNorm keeps this step and
    /// folds only the affine part.
    /// - Throws: ``NormalizationError`` for a wrong channel count or a non-finite input.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func groupScaling(_ x: TokenBatch<Scalar>) throws -> TokenBatch<Scalar> {
        try x.validatedForStatistics(channels: channels)
        return x.withUnchecked(values: groupScaled(x).values)
    }

    private func groupScaled(_ x: TokenBatch<Scalar>) -> (values: [Scalar], scale: [Scalar]) {
        guard groups > 0 else { return (x.values, []) }
        let r = TokenwiseNormalization.forward(
            x.values, rows: x.rows, channels: channels,
            groupSize: channels / groups, centered: false, eps: eps, keepZ: false)
        return (r.y, r.scale)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func forwardTraining(_ x: TokenBatch<Scalar>) throws -> (output: TokenBatch<Scalar>, cache: Cache) {
        try x.validatedForStatistics(channels: channels)
        let t = iters + 1
        let (xs, gscale) = groupScaled(x)
        // The quadratic mean over every row, range-safe (Double sums, rescaled where they overflow or
        // underflow: RowKernels.columnMoments); an unrepresentable one is a typed error, before any
        // state changes.
        let moments = RowKernels.columnMoments(
            xs, rows: x.rows, channels: channels, mask: x.padMask, centered: false, eps: Double(eps))
        let x2 = moments.variance
        if let c = x2.firstIndex(where: { !$0.isFinite }) {
            throw NormalizationError.nonFinite(what: "channel mean square (overflow)", index: c)
        }
        let denom = t <= warmupIters ? moments.scale : runningPhi.map { RowKernels.rootOfSum($0, eps) }
        let z = ChannelReductions.map(x) { i, c in xs[i] / denom[c] }
        var phi = runningPhi
        for c in 0..<channels {
            if t < warmupIters {
                phi[c] = phi[c] * Scalar(t - 1) / Scalar(t) + x2[c] / Scalar(t)
            }
            phi[c] = forwardMomentum * phi[c] + (1 - forwardMomentum) * x2[c]
        }
        // Never store an infinite running statistic.
        if let c = phi.firstIndex(where: { !$0.isFinite }) {
            throw NormalizationError.nonFinite(what: "running mean square (overflow)", index: c)
        }
        // The output first: one beyond the range is a typed error, and the state is then unchanged.
        let y = try AffineOutput.apply(z, weight: weight, bias: bias, like: x)
        runningPhi = phi
        iters = t
        return (y, Cache(z: z, x2: x2, scaled: xs, groupScale: gscale, shape: x.shape))
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func backward(_ dy: TokenBatch<Scalar>, cache: Cache) throws -> NormGradients<Scalar> {
        guard dy.shape == cache.shape else {
            throw NormalizationError.staleCache(reason: "gradient shape \(dy.shape) vs forward \(cache.shape)")
        }
        try dy.validatedShape(channels: channels)
        try requireFinite(dy.values, "gradOutput")
        // Range-safe: linear in (∂L/∂Y, emaGz) jointly, so both are scaled by 2^−k (GradientScaling).
        let k = GradientScaling.exponent(dy.values, weight: weight, z: cache.z, rows: dy.rows, state: [emaGz])
        guard k == 0 else {
            let saved = emaGz
            emaGz = GradientScaling.scaled(emaGz, -k)
            do {
                let scaled = dy.withUnchecked(values: GradientScaling.scaled(dy.values, -k))
                let g = try GradientScaling.scaled(backwardCore(scaled, cache: cache), k)
                let ema = GradientScaling.scaled(emaGz, k)
                if let c = ema.firstIndex(where: { !$0.isFinite }) {
                    throw NormalizationError.nonFinite(what: "running g⊙z average (overflow)", index: c)
                }
                emaGz = ema
                return g
            } catch {
                emaGz = saved
                throw error
            }
        }
        let saved = emaGz
        do { return try GradientScaling.scaled(backwardCore(dy, cache: cache), 0) } catch {
            emaGz = saved
            throw error
        }
    }

    private mutating func backwardCore(_ dy: TokenBatch<Scalar>, cache: Cache) throws -> NormGradients<Scalar> {
        let g = AffineOutput.scaledGradient(dy, weight: weight)
        let ema = emaGz
        let a = ChannelReductions.map(dy) { i, c in g[i] - (1 - backwardMomentum) * ema[c] * cache.z[i] }
        let n = Scalar(dy.rows)
        let az = ChannelReductions.dot(a, cache.z, like: dy, realOnly: false)
        for c in 0..<channels { emaGz[c] += az[c] / n }
        let s = cache.x2.map { RowKernels.rootOfSum($0, eps) }
        var dxs = ChannelReductions.map(dy) { i, c in a[i] / s[c] }
        var dx = dxs
        if groups > 0 {
            // a/s may overflow where the group-RMS backward (linear in its input, dividing by the
            // group's scale) brings it back into range: then a is scaled by 2^−j first, dx by 2^j after.
            var j = 0
            if RowKernels.firstNonFinite(dxs) != nil {
                let amax = a.reduce(Scalar(0)) { max($0, $1.magnitude) }
                let smin = s.min() ?? 1
                j = max(0, Int(amax.exponent) - Int(smin.exponent) - Int(Scalar.greatestFiniteMagnitude.exponent) + 2)
                dxs = ChannelReductions.map(dy) { i, c in TokenwiseNormalization.scaled(a[i], -j) / s[c] }
            }
            let r = TokenwiseNormalization.backward(
                dxs, z: cache.scaled, scale: cache.groupScale, rows: dy.rows,
                channels: channels, groupSize: channels / groups, centered: false)
            if let i = r.firstNonFinite {
                throw NormalizationError.nonFinite(what: "input gradient (beyond the range of the type)", index: i)
            }
            dx = j == 0 ? r.dx : GradientScaling.scaled(r.dx, j)
        }
        let p = AffineOutput.parameterGradients(dy, z: cache.z)
        return NormGradients(input: dy.withUnchecked(values: dx), weight: p.weight, bias: p.bias)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forwardInference(_ x: TokenBatch<Scalar>) throws -> TokenBatch<Scalar> {
        try x.validatedForStatistics(channels: channels)
        return try affineAfterGroupScaling().apply(x.withUnchecked(values: groupScaled(x).values))
    }

    /// The per-channel affine map applied after the group scaling: `γ / sqrt(φ + ε)`, `β`.
    public func affineAfterGroupScaling() throws -> ChannelAffine<Scalar> {
        try ChannelAffine.normalizing(variance: runningPhi, eps: eps, weight: weight, bias: bias)
    }

    /// The inference map, when it is per-channel affine (group scaling disabled).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func inferenceAffine() throws -> ChannelAffine<Scalar> {
        if groups > 0 {
            throw NormalizationError.notFoldable(
                layer: name,
                reason:
                    """
                    the authors' PowerNorm divides each token by its own RMS (group scaling, groups = \(groups)) \
                    at run time; only the affine part after it folds (use groups: 0, or affineAfterGroupScaling())
                    """
            )
        }
        return try affineAfterGroupScaling()
    }
}
