#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The Taylor remainder test: `r(h) = f(x + h v) − f(x) − h ⟨∇f, v⟩` for `h = h_0 2^{-k}`.
///
/// A right gradient leaves `r(h) = O(h²)`, a wrong one `r(h) ≈ h δ` with `δ = ∂_v f − ⟨∇f, v⟩`.
/// Fitting the order of `r` alone has little power: an error `δ` shows only at steps
/// `h < 2|δ| / |vᵀHv|`, which for a 0.1% error lie below the steps usually sampled (the order
/// then comes out as 2 for a wrong gradient). So the verdict is taken from `δ` itself: the
/// first-order coefficient of the remainder, `lim r(h)/h`, extrapolated by Richardson with an
/// error bound (``DerivativeEstimator``), which states the smallest relative error of
/// `⟨∇f, v⟩` the test could have seen. The remainder table and its fitted order are still
/// returned, over steps starting at the estimator's first step, where the asymptotic regime begins.
public struct TaylorTest: Sendable {
    public enum Verdict: String, Sendable, Codable {
        /// `|δ|` within the band, and the band at most `resolution` of `|⟨∇f, v⟩|`.
        case consistent
        /// `|δ|` beyond the band: the gradient is wrong along `v`.
        case inconsistent
        /// Neither; `reason` says why.
        case inconclusive
    }

    public struct Result: Sendable, Codable {
        public var steps: [Double]
        /// `|r(h)|` per step.
        public var remainders: [Double]
        /// Least-squares slope of `log |r|` against `log h` over the steps above the noise level.
        public var order: Double?
        public var usableSteps: Int
        public var verdict: Verdict
        public var reason: InconclusiveReason?
        /// `⟨∇f, v⟩` from the claimed gradient.
        public var claimedSlope: Double
        /// `∂_v f` estimated numerically, and its error bound.
        public var numericalSlope: Double
        public var slopeError: Double
        /// The smallest relative error of `⟨∇f, v⟩` this run could have detected.
        public var detectableRelativeError: Double
        public var evaluations: Int
        public var seed: UInt64
    }

    /// Remainders reported (and fitted): 4...60.
    public var steps = 30
    /// Remainders below `noiseMultiple · noise` are round-off, not signal (finite, > 0).
    public var noiseMultiple: Double = 100
    /// How many of the smallest usable steps the order is fitted over (3...steps).
    public var fitPoints = 5
    /// As in ``GradientChecker``: the band is `safety · error + roundingUnits · u · Σ|g_i v_i|`.
    public var safety: Double = 4
    public var roundingUnits: Double = 64
    /// The former name of ``roundingUnits`` (it is in units of the unit roundoff `u`, not ulps).
    @available(*, deprecated, renamed: "roundingUnits")
    public var roundingUlps: Double {
        get { roundingUnits }
        set { roundingUnits = newValue }
    }
    /// The relative resolution a `consistent` verdict needs (`nil`: 1e-6 Double, 1e-3 Float).
    public var resolution: Double?
    public var estimator = DerivativeEstimator()
    public var seed: UInt64 = 0x5EED
    public init() {}

    /// Throws ``GradientCheckError/invalidOption(name:requirement:)`` for an option outside its domain.
    public func validate() throws {
        guard (4...60).contains(steps) else {
            throw GradientCheckError.invalidOption(name: "steps", requirement: "must be in 4...60, got \(steps)")
        }
        guard (3...steps).contains(fitPoints) else {
            throw GradientCheckError.invalidOption(
                name: "fitPoints", requirement: "must be in 3...steps, got \(fitPoints)")
        }
        guard noiseMultiple.isFinite, noiseMultiple > 0 else {
            throw GradientCheckError.invalidOption(
                name: "noiseMultiple", requirement: "must be finite and > 0, got \(noiseMultiple)")
        }
        try validateVerdictOptions(safety: safety, roundingUnits: roundingUnits, resolution: resolution)
        try estimator.validate()
    }

    /// Runs the test along `direction` (default: a random Gaussian direction from `seed`).
    ///
    /// - Parameters:
    ///   - f: the function `ℝⁿ → ℝ`.
    ///   - x: the point (`n` entries).
    ///   - gradient: the claimed `∇f(x)`.
    ///   - direction: `v` (`n` entries, not zero).
    /// - Throws: ``GradientCheckError`` for empty or mismatched sizes, non-finite values at `x`,
    ///   a zero direction, or invalid options.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func run<S: CheckScalar>(of f: ([S]) throws -> S, at x: [S], gradient: [S], direction: [S]? = nil) throws
        -> Result
    {
        try validate()
        try requireValidPoint(x, gradient, "gradient")
        var rng = SeededGenerator(seed: seed)
        let v = direction ?? (0..<x.count).map { _ in S(rng.normal()) }
        guard v.count == x.count else {
            throw GradientCheckError.sizeMismatch(what: "direction", expected: x.count, actual: v.count)
        }
        try requireFinite(v, "direction")
        let vs = v.map { abs(Double($0)) }.max() ?? 0
        guard vs > 0 else { throw GradientCheckError.invalidOption(name: "direction", requirement: "must not be zero") }
        let u = S.unitRoundoff
        let res = resolution ?? (u < 1e-10 ? 1e-6 : 1e-3)
        let f0 = Double(try call("f(x)") { [try f(x)] }[0])
        let slope = zip(gradient, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let slopeTerms = zip(gradient, v).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
        let xs = x.map { abs(Double($0)) }.max() ?? 0

        // δ + ⟨∇f, v⟩ = ∂_v f, extrapolated with an error bound.
        let e = try withoutActuallyEscaping(f) { f in
            try estimator.sample(
                { p in [try f(p)] }, at: x, g0: [f0], coordinate: nil, direction: v.map(Double.init),
                scale: max(xs, 1) / vs, maxStep: nil)
        }
        let band = safety * e.error[0] + roundingUnits * u * slopeTerms
        let delta = abs(e.value[0] - slope)
        let ref = max(abs(slope), abs(e.value[0]))
        let detectable = band == 0 ? 0 : (ref > 0 ? band / ref : .infinity)
        let decided = entryVerdict(
            failure: e.failure, regimeFound: e.regimeFound, allowed: band, difference: delta, detectable: detectable,
            resolution: res)
        var verdict: Verdict =
            decided.0 == .mismatch ? .inconsistent : (decided.0 == .pass ? .consistent : .inconclusive)
        var reason = decided.1

        // The remainder table, halving down towards the noise floor: the order is fitted over the
        // smallest usable steps, where the first-order term of any detectable error dominates.
        var h = max(xs, 1) / vs / 4
        var hs: [Double] = []
        var rs: [Double] = []
        var fmax = abs(f0)
        var evals = e.evaluations + 1
        for _ in 0..<steps {
            let p = zip(x, v).map { S(Double($0) + h * Double($1)) }
            guard let fv = try? f(p), fv.isFinite else {
                h /= 2
                continue
            }
            evals += 1
            let fh = Double(fv)
            fmax = max(fmax, abs(fh))
            hs.append(h)
            rs.append(abs(fh - f0 - h * slope))
            h /= 2
        }
        // Values at the edge of the range (f underflowing to 0 or subnormal at x, and no change
        // seen near it) carry no information about δ: no verdict.
        if verdict != .inconclusive && abs(f0) < Double(S.leastNormalMagnitude) && e.value[0] == 0 {
            verdict = .inconclusive
            reason = .outOfRange
        }
        // Noise of the remainder: rounding of f(x+hv) and f(x), and of x + h v (≈ u |x| |∇f|).
        let noise = 8 * u * (fmax + xs * slopeTerms / max(vs, .leastNormalMagnitude) + abs(slope) * (hs.first ?? 0))
        let usable = Array(zip(hs, rs).filter { $0.1 > noiseMultiple * noise }.suffix(fitPoints))
        var order: Double?
        if usable.count >= 3 {
            let lx = usable.map { log($0.0) }
            let ly = usable.map { log($0.1) }
            let mx = lx.reduce(0, +) / Double(lx.count)
            let my = ly.reduce(0, +) / Double(ly.count)
            let sxy = zip(lx, ly).reduce(0.0) { $0 + ($1.0 - mx) * ($1.1 - my) }
            let sxx = lx.reduce(0.0) { $0 + ($1 - mx) * ($1 - mx) }
            order = sxy / sxx
        }
        return Result(
            steps: hs, remainders: rs, order: order, usableSteps: usable.count, verdict: verdict, reason: reason,
            claimedSlope: slope, numericalSlope: e.value[0], slopeError: e.error[0],
            detectableRelativeError: detectable, evaluations: evals, seed: seed)
    }
}
