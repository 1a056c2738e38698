/// Which behaviour of Unified Normalization a layer reproduces. The caller always chooses.
public enum UnifiedNormMode: Sendable, Equatable, Codable {
    /// Every behaviour of the authors' `UN1d` (spec section 4), quirks included: the iteration
    /// counter incremented first, buffer slot `t mod M`, the pooled unbiased threshold from the
    /// previous buffer, a skip rewriting the slot with the running variance, the compensation
    /// factor `r` and its clamp, moving averages from zero, statistics over real tokens but
    /// backward means over all `B·N` positions.
    case referenceCompatible
    /// UN as the paper's section 3 states it (see ``PaperGradient``).
    case paper(PaperGradient)
}

/// The backward pass of the paper mode.
public enum PaperGradient: String, Sendable, Equatable, Codable {
    /// `ψ_σ,t = α ψ_σ,t−1 + (1−α)·mean of the last M_bp g_σ`; `∂L/∂X = (G − ψ_σ Z)/sqrt(σ̂²+ε)`.
    case calibrated
    /// The true gradient of the paper-mode forward at this step (history held fixed):
    /// `ψ = g_σ,t · σ̂² / (M σ²_t)` in the smoothed regime, `g_σ,t` otherwise.
    case exact
}

/// Configuration of a UN layer; every value is validated by ``UnifiedNorm/init(configuration:mode:weight:bias:)``.
public struct UnifiedNormConfiguration: Sendable, Equatable, Codable {
    public var channels: Int
    /// `M`, forward window.
    public var forwardWindow: Int
    /// `M_bp`, backward window.
    public var backwardWindow: Int
    public var warmupIters: Int
    public var outlierFiltration: Bool
    public var eps: Double
    /// `α`, weight of the old value in every moving average.
    public var momentum: Double

    /// Defaults of the authors' `UN1d`: window 4, warm-up 4000, filtration off, ε 1e-5, α 0.9.
    public init(
        channels: Int, forwardWindow: Int = 4, backwardWindow: Int? = nil, warmupIters: Int = 4000,
        outlierFiltration: Bool = false, eps: Double = 1e-5, momentum: Double = 0.9
    ) {
        self.channels = channels
        self.forwardWindow = forwardWindow
        self.backwardWindow = backwardWindow ?? forwardWindow
        self.warmupIters = warmupIters
        self.outlierFiltration = outlierFiltration
        self.eps = eps
        self.momentum = momentum
    }

    func validate() throws {
        try ConfigurationCheck.channels(channels)
        try ConfigurationCheck.atLeast(forwardWindow, 1, "forwardWindow")
        try ConfigurationCheck.atLeast(backwardWindow, 1, "backwardWindow")
        try ConfigurationCheck.atLeast(warmupIters, 0, "warmupIters")
        try ConfigurationCheck.eps(eps)
        try ConfigurationCheck.momentum(momentum)
        // The buffers hold window × channels entries each: bounded, and never an overflowing product.
        for (name, w) in [("forwardWindow", forwardWindow), ("backwardWindow", backwardWindow)] {
            let (n, ovf) = w.multipliedReportingOverflow(by: channels)
            guard !ovf, n <= Self.maxBufferEntries else {
                throw NormalizationError.invalidConfiguration(
                    parameter: name, value: "\(w)",
                    requirement: "\(name) × channels must be at most \(Self.maxBufferEntries)")
            }
        }
    }

    /// The largest `window × channels` a buffer may hold (2²⁴ entries: 128 MiB in Double).
    public static let maxBufferEntries = 1 << 24

    /// Validation in the precision `S` the layer computes in: `eps` must stay > 0 and `momentum`
    /// < 1 after rounding to `S` (`eps = 1e-50` is 0 in Float).
    func validate<S: NormScalar>(in _: S.Type) throws {
        try validate()
        guard S(eps) > 0, S(eps).isFinite else {
            throw NormalizationError.invalidConfiguration(
                parameter: "eps", value: "\(eps)",
                requirement: "must be > 0 in \(S.self) (it rounds to \(S(eps)))")
        }
        guard S(momentum) < 1 else {
            throw NormalizationError.invalidConfiguration(
                parameter: "momentum", value: "\(momentum)",
                requirement: "must be < 1 in \(S.self) (it rounds to \(S(momentum)))")
        }
    }
}

/// Which branch a UN training step took.
public enum UnifiedNormRegime: String, Sendable, Codable, CaseIterable {
    /// Current-batch statistics (warm-up, or the window not yet full).
    case current
    /// Geometric-mean smoothed statistics.
    case smoothed
    /// Outlier filtration fired (or window 1): moving averages dropped for this step.
    case skip
}

/// Unified Normalization (Yang et al., 2022) for `B × N × C` activations.
///
/// Per channel, with statistics over the real tokens: `σ²_t = mean x²` (no centering),
/// `σ̂²_t` = geometric mean of the last `M` values of `σ²`, `z = x / sqrt(σ̂²_t + ε)`,
/// `y = γ ⊙ z + β`. Backward: `∂L/∂x = (G − ψ_σ ⊙ z) / sqrt(σ̂²_t + ε)`, `G = γ ⊙ ∂L/∂Y`.
/// Inference: `y = γ ⊙ x / sqrt(runningVar + ε) + β`, a per-channel affine map.
///
/// What differs between the modes, and why:
///
/// | | reference-compatible | paper |
/// |---|---|---|
/// | smoothing starts | `t > M`, `t ≥ warmup` (buffer starts at zeros) | `t ≥ M`, `t ≥ warmup` (a full window) |
/// | filtration threshold | `M` × pooled unbiased variance of √ of the *previous* buffer | `M·V(Ω_t^{1/2})` |
///
/// (The paper's threshold is per channel, of the *same* window, and never fires in exact arithmetic
/// (Kober); the reference-compatible one pools all `M·C` entries of the previous buffer.)
/// | on a skip | slot rewritten with the running variance | slot keeps `σ²_t` |
/// | compensation factor `r` | yes, clamped to [1/5, 5] after `max(1000, warmup)` | none |
/// | `g_σ` | `mean over all B·N positions of G⊙z` (with `r`) | `Σ_all G⊙z / T` (exact with padding) |
/// | correction applied to | every position | real tokens only (padded tokens do not enter σ²) |
/// | `ψ` in warm-up | moving average from zero | current `g_σ` (so warm-up is exactly the gradient) |
///
/// The authors' choices are kept in the reference mode because the point of that mode is to
/// match their traces bit for bit (up to reduction order); the paper mode is the method as
/// written, with an exact option whose backward is the true gradient of its forward.
public struct UnifiedNorm<Scalar: NormScalar>: NormalizationLayer {
    public struct Cache: Sendable {
        let z: [Scalar]
        let variance: [Scalar]
        let currentStatistic: [Scalar]
        let compensation: [Scalar]
        let regime: UnifiedNormRegime
        let iteration: Int
        let realTokens: Int
        let shape: [Int]
        /// The per-channel statistic the step normalized by (`C`): the smoothed geometric mean of the
        /// window, or the current batch's mean square where the step used it (warm-up, skip).
        public var statistic: [Scalar] { variance }
        /// The current batch's per-channel mean square over the real tokens (`C`), before smoothing.
        public var batchStatistic: [Scalar] { currentStatistic }
        /// Which statistic the step used.
        public var stepRegime: UnifiedNormRegime { regime }
    }

    public let configuration: UnifiedNormConfiguration
    public let mode: UnifiedNormMode
    public private(set) var weight: [Scalar]
    public private(set) var bias: [Scalar]
    public internal(set) var runningVar: [Scalar]
    /// The moving average of `g_σ` (the authors' `ema_gz`; the paper's `ψ_σ`).
    public internal(set) var emaGz: [Scalar]
    /// Forward buffer, slot-major `M × C`; slot `t mod M` is written at iteration `t`.
    public internal(set) var bufferX2: [Scalar]
    /// Backward buffer, slot-major `M_bp × C`.
    public internal(set) var bufferGz: [Scalar]
    public internal(set) var iters: Int = 0
    public internal(set) var skipCounter: Int = 0
    /// The regime of the last training step.
    public internal(set) var lastRegime: UnifiedNormRegime?
    /// Behaviours of the reference mode done the other way (the conformance diagnosis's mutants;
    /// empty, the default, is the authors' code). Ignored by the paper modes.
    public var deviations: Set<ReferenceDeviation> = []

    let eps: Scalar
    let alpha: Scalar

    public var channels: Int { configuration.channels }
    public var name: String {
        switch mode {
        case .referenceCompatible: return "UN (reference-compatible)"
        case .paper(let g): return "UN (paper, \(g.rawValue) gradient)"
        }
    }

    public init(
        configuration: UnifiedNormConfiguration, mode: UnifiedNormMode,
        weight: [Scalar]? = nil, bias: [Scalar]? = nil
    ) throws {
        try configuration.validate(in: Scalar.self)
        let c = configuration.channels
        let w = weight ?? Array(repeating: 1, count: c)
        let b = bias ?? Array(repeating: 0, count: c)
        try Self.validatedAffine(w, b, channels: c)
        self.configuration = configuration
        self.mode = mode
        self.weight = w
        self.bias = b
        self.eps = Scalar(configuration.eps)
        self.alpha = Scalar(configuration.momentum)
        self.runningVar = Array(repeating: 1, count: c)
        self.emaGz = Array(repeating: 0, count: c)
        self.bufferX2 = Array(repeating: 0, count: configuration.forwardWindow * c)
        self.bufferGz = Array(repeating: 0, count: configuration.backwardWindow * c)
    }

    public mutating func setAffine(weight: [Scalar], bias: [Scalar]) throws {
        try Self.validatedAffine(weight, bias, channels: channels)
        self.weight = weight
        self.bias = bias
    }

    /// Replaces the training state (for constructing a regime deliberately, e.g. a stationary
    /// history for claim G3). Sizes and finiteness are validated; variances must be ≥ 0.
    public mutating func setState(
        runningVar: [Scalar], emaGz: [Scalar], bufferX2: [Scalar],
        bufferGz: [Scalar], iters: Int, skipCounter: Int = 0
    ) throws {
        let c = channels
        try requireCount(runningVar, c, "runningVar")
        try requireCount(emaGz, c, "emaGz")
        try requireCount(bufferX2, configuration.forwardWindow * c, "bufferX2")
        try requireCount(bufferGz, configuration.backwardWindow * c, "bufferGz")
        for (v, n) in [(runningVar, "runningVar"), (emaGz, "emaGz"), (bufferX2, "bufferX2"), (bufferGz, "bufferGz")] {
            try requireFinite(v, n)
        }
        if let i = (runningVar + bufferX2).firstIndex(where: { $0 < 0 }) {
            throw NormalizationError.invalidConfiguration(
                parameter: "state variance entry \(i)", value: "negative", requirement: "variances must be ≥ 0")
        }
        try ConfigurationCheck.atLeast(iters, 0, "iters")
        // The counter is incremented every training step: leave room (2⁶² steps) so it never overflows.
        try ConfigurationCheck.atMost(iters, 1 << 62, "iters")
        try ConfigurationCheck.atLeast(skipCounter, 0, "skipCounter")
        // Incremented on every skipped step, as iters on every step: the same room.
        try ConfigurationCheck.atMost(skipCounter, 1 << 62, "skipCounter")
        self.runningVar = runningVar
        self.emaGz = emaGz
        self.bufferX2 = bufferX2
        self.bufferGz = bufferGz
        self.iters = iters
        self.skipCounter = skipCounter
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func forwardTraining(_ x: TokenBatch<Scalar>) throws -> (output: TokenBatch<Scalar>, cache: Cache) {
        var storage = [Scalar]()
        return try forwardTraining(x, reusing: &storage)
    }

    /// ``forwardTraining(_:)`` writing `y` into `output`'s buffer where it fits and is not shared
    /// (`z`, kept by the cache, is a new array each step).
    /// - Returns: the cache for ``backward(_:cache:)``.
    /// - Throws: as ``forwardTraining(_:)``; the layer is then unchanged and `output`'s values unspecified.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func forwardTraining(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws
        -> Cache
    {
        try output.overwrite { try forwardTraining(x, reusing: &$0) }
    }

    /// ``backward(_:cache:)`` writing `∂L/∂X` into `gradients.input`'s buffer where it fits and is
    /// not shared.
    /// - Throws: as ``backward(_:cache:)``; the gradient state is then unchanged and the values unspecified.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func backward(
        _ dy: TokenBatch<Scalar>, cache: Cache, into gradients: inout NormGradients<Scalar>
    ) throws {
        try gradients.overwrite { try backward(dy, cache: cache, reusing: &$0) }
    }

    private mutating func forwardTraining(_ x: TokenBatch<Scalar>, reusing storage: inout [Scalar]) throws -> (
        output: TokenBatch<Scalar>, cache: Cache
    ) {
        try x.validatedForStatistics(channels: channels)
        // σ² = mean x² over the real tokens, summed in Double (range-safe; see columnMoments).
        let x2 = RowKernels.columnMoments(
            x.values, rows: x.rows, channels: channels, mask: x.padMask, centered: false
        )
        .variance
        // A mean square that overflowed is not stored anywhere: the step throws before any state changes.
        if let i = x2.firstIndex(where: { !$0.isFinite }) {
            throw NormalizationError.nonFinite(what: "channel mean square (overflow)", index: i)
        }
        // Atomic: a step that throws (a statistic or output beyond the range) leaves the layer as it was.
        let saved = self
        do { return try forwardTrainingStep(x, x2, reusing: &storage) } catch {
            self = saved
            throw error
        }
    }

    private mutating func forwardTrainingStep(_ x: TokenBatch<Scalar>, _ x2: [Scalar], reusing storage: inout [Scalar])
        throws -> (
            output: TokenBatch<Scalar>, cache: Cache
        )
    {
        iters += 1
        let step: (variance: [Scalar], r: [Scalar], regime: UnifiedNormRegime)
        switch mode {
        case .referenceCompatible: step = try referenceForwardStatistics(x2)
        case .paper: step = try paperForwardStatistics(x2)
        }
        lastRegime = step.regime
        if let c = step.variance.firstIndex(where: { !$0.isFinite }) {
            throw NormalizationError.nonFinite(what: "smoothed variance (overflow)", index: c)
        }
        let s = step.variance.map { RowKernels.rootOfSum($0, eps) }
        let normalized = RowKernels.channelNormalize(
            x.values, rows: x.rows, channels: channels, divisor: s, weight: weight, bias: bias, reusing: &storage)
        let z = normalized.z
        var y = normalized.y
        // Every y finite (probed in the kernel's pass) vouches for every z too; otherwise the entries
        // are looked at.
        if !normalized.finite {
            if RowKernels.firstNonFinite(y) != nil {
                // γ·z can overflow where γ·z + β does not: those entries again, halved (multiplyAdd).
                for i in y.indices where !y[i].isFinite {
                    y[i] = RowKernels.multiplyAdd(weight[i % channels], z[i], bias[i % channels])
                }
            }
            if let i = RowKernels.firstNonFinite(y) ?? RowKernels.firstNonFinite(z) {
                throw NormalizationError.nonFinite(what: "output (beyond the range of the type)", index: i)
            }
        }
        let swapped = mode == .referenceCompatible && deviations.contains(.pytorchMomentum)
        let (keep, take) = swapped ? (1 - alpha, alpha) : (alpha, 1 - alpha)
        for c in 0..<channels { runningVar[c] = keep * runningVar[c] + take * step.variance[c] }
        if let c = runningVar.firstIndex(where: { !$0.isFinite }) {
            throw NormalizationError.nonFinite(what: "running variance (overflow)", index: c)
        }
        let cache = Cache(
            z: z, variance: step.variance, currentStatistic: x2, compensation: step.r,
            regime: step.regime, iteration: iters, realTokens: x.realTokenCount, shape: x.shape)
        return (x.withUnchecked(values: y), cache)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public mutating func backward(_ dy: TokenBatch<Scalar>, cache: Cache) throws -> NormGradients<Scalar> {
        var storage = [Scalar]()
        return try backward(dy, cache: cache, reusing: &storage)
    }

    private mutating func backward(_ dy: TokenBatch<Scalar>, cache: Cache, reusing storage: inout [Scalar]) throws
        -> NormGradients<Scalar>
    {
        guard dy.shape == cache.shape else {
            throw NormalizationError.staleCache(reason: "gradient shape \(dy.shape) vs forward \(cache.shape)")
        }
        guard cache.iteration == iters else {
            throw NormalizationError.staleCache(reason: "cache from iteration \(cache.iteration), layer at \(iters)")
        }
        try dy.validatedShape(channels: channels)
        // A finite bound (a finite sum of squares) means every entry is finite: the scan for the
        // first non-finite entry runs only otherwise (one pass over ∂L/∂Y instead of two).
        let dyBound = RowKernels.magnitudeBound(dy.values)
        if !dyBound.isFinite { try requireFinite(dy.values, "gradOutput") }
        // Range-safe: the backward is linear in (∂L/∂Y, emaGz, bufferGz) jointly, so all three are
        // scaled by 2^−k where its sums could overflow, and scaled back after (GradientScaling).
        let k = GradientScaling.exponent(
            dy.values, weight: weight, z: cache.z, rows: dy.rows, state: [emaGz, bufferGz], dyBound: dyBound)
        let saved = (emaGz, bufferGz)
        guard k > 0 else {
            do { return try GradientScaling.scaled(backwardCore(dy, cache: cache, reusing: &storage), 0) } catch {
                (emaGz, bufferGz) = saved
                throw error
            }
        }
        emaGz = GradientScaling.scaled(emaGz, -k)
        bufferGz = GradientScaling.scaled(bufferGz, -k)
        do {
            let scaled = dy.withUnchecked(values: GradientScaling.scaled(dy.values, -k))
            let g = try GradientScaling.scaled(backwardCore(scaled, cache: cache, reusing: &storage), k)
            let ema = GradientScaling.scaled(emaGz, k)
            let buffer = GradientScaling.scaled(bufferGz, k)
            if let c = (ema + buffer).firstIndex(where: { !$0.isFinite }) {
                throw NormalizationError.nonFinite(what: "g⊙z statistic (overflow)", index: c % channels)
            }
            (emaGz, bufferGz) = (ema, buffer)
            return g
        } catch {
            (emaGz, bufferGz) = saved
            throw error
        }
    }

    private mutating func backwardCore(_ dy: TokenBatch<Scalar>, cache: Cache, reusing storage: inout [Scalar])
        -> NormGradients<Scalar>
    {
        switch mode {
        case .referenceCompatible: return referenceBackward(dy, cache: cache, reusing: &storage)
        case .paper(let g): return paperBackward(dy, cache: cache, exact: g == .exact, reusing: &storage)
        }
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forwardInference(_ x: TokenBatch<Scalar>) throws -> TokenBatch<Scalar> {
        try inferenceAffine().apply(x)
    }

    /// ``forwardInference(_:)`` writing into `output`'s buffer where it fits and is not shared.
    /// - Throws: as ``forwardInference(_:)``; `output`'s values are then unspecified.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func forwardInference(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws {
        try inferenceAffine().apply(x, into: &output)
    }

    /// `a = γ / sqrt(runningVar + ε)`, `b = β`.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func inferenceAffine() throws -> ChannelAffine<Scalar> {
        try ChannelAffine.normalizing(variance: runningVar, eps: eps, weight: weight, bias: bias)
    }

    /// Buffer slot `s`, channel `c`.
    func slotRange(_ s: Int) -> Range<Int> { (s * channels)..<((s + 1) * channels) }

    /// The window of channel `c` in a slot-major buffer with `m` slots.
    func window(_ buffer: [Scalar], slots m: Int, channel c: Int) -> [Scalar] {
        (0..<m).map { buffer[$0 * channels + c] }
    }
}
