#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Estimates the derivative `G'(0)` of a vector-valued function of one displacement `t`,
/// with an error estimate for every component. Every check in this module reduces to this:
/// a gradient entry is `d/dt f(x + t e_i)`, a Jacobian column `d/dt g(x + t e_j)`, a
/// projected check `d/dt ⟨u, g(x + t v)⟩`, a Hessian–vector product `d/dt ∇f(x + t v)`.
public struct DerivativeEstimator: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        /// Richardson extrapolation of 2-point differences from an automatically selected
        /// first step (the default; central: ≈1e-14 relative on smooth Double functions).
        case richardson
        /// One plain stencil with `points` points at the step that balances truncation and
        /// round-off (`StepSelector.optimalStep`), the higher derivative estimated from a
        /// wider stencil. Cheaper, less accurate.
        case stencil(points: Int)
    }

    public var method: Method = .richardson
    /// Central by default; forward or backward for points at a domain edge.
    public var side: Stencil.Side = .central
    public var richardsonRatio: Double = 1.4
    public var maxRows: Int = 12
    public var stepSelector = StepSelector()
    /// Absolute noise of a computed value `y` is modelled as `noiseFactor · u · |y|` (the larger of
    /// this and a measured fourth difference is used). 2 covers a correctly rounded result and a
    /// few operations' worth; measured on the accuracy suite, the resulting error estimate is at
    /// least the true error on ≥ 99.6% of entries in both precisions (8, the earlier value,
    /// overstated Float bands about fourfold and cost detection power, with no gain in coverage).
    public var noiseFactor: Double = 2
    /// Run a second tableau from an 8× smaller first step and reconcile (about 1.6× the
    /// evaluations; guards against a first step outside the Taylor regime).
    public var crossCheck = true

    public init(method: Method = .richardson, side: Stencil.Side = .central) {
        self.method = method
        self.side = side
    }

    /// A derivative estimate with an error bound per component.
    public struct Estimate: Sendable {
        /// `G'(0)`, per component.
        public var value: [Double]
        /// Bound on `|value − G'(0)|`, per component (may be `+∞`).
        public var error: [Double]
        /// Function evaluations spent.
        public var evaluations: Int
        /// The finest displacement of the chosen tableau entry.
        public var step: Double
        /// Whether the step selector saw the asymptotic (Taylor) regime. When false, `error` is
        /// not a bound on anything and a verdict built on it is `inconclusive` (``InconclusiveReason/notSmooth``).
        public var regimeFound: Bool = true
        /// The stencil side actually used (a central request may fall back to one side at a domain edge).
        public var side: Stencil.Side = .central
        /// Set when no estimate could be formed (the function is undefined at every trial point).
        public var failure: InconclusiveReason?
        /// The quantum of change of a function seen exactly flat at the chosen steps (0 if none):
        /// the error bound includes it, and it is a real bound (no regime guess), so the check
        /// may decide on it even when it is wider than the function's own scale.
        public var quantum: Double = 0
        /// The first step of the extrapolation (in the Taylor regime when ``regimeFound``): the
        /// half-width a least-squares refinement samples over.
        public var firstStep: Double = 0
    }

    /// Throws ``GradientCheckError/invalidOption(name:requirement:)`` for an option outside its domain.
    public func validate() throws {
        guard richardsonRatio.isFinite, richardsonRatio > 1, richardsonRatio <= 4 else {
            throw GradientCheckError.invalidOption(
                name: "richardsonRatio", requirement: "must be in (1, 4], got \(richardsonRatio)")
        }
        guard (2...40).contains(maxRows) else {
            throw GradientCheckError.invalidOption(name: "maxRows", requirement: "must be in 2...40, got \(maxRows)")
        }
        guard noiseFactor.isFinite, noiseFactor >= 0 else {
            throw GradientCheckError.invalidOption(
                name: "noiseFactor", requirement: "must be finite and ≥ 0, got \(noiseFactor)")
        }
        guard (1...400).contains(stepSelector.maxHalvings) else {
            throw GradientCheckError.invalidOption(
                name: "stepSelector.maxHalvings",
                requirement: "must be in 1...400, got \(stepSelector.maxHalvings)")
        }
        if case .stencil(let points) = method { _ = try Stencil(points: points, derivativeOrder: 1, side: side) }
    }

    /// `displaced(t)` returns `G` at displacement `t` and the displacement actually applied
    /// (rounding of `x + t v` to the function's precision may change it slightly).
    /// `g0` is `G(0)`, used for the noise level and by one-sided differences.
    /// `valueFloor` is the smallest normal magnitude of the function's precision: below it the
    /// absolute spacing of representable values, not `u·|y|`, is the noise. `minStep` is the
    /// smallest first step worth trying (a displacement of a few ulps of `x` says nothing).
    func estimate(
        g0: [Double], unitRoundoff u: Double, valueFloor: Double = .leastNormalMagnitude, scale: Double,
        minStep: Double = 0, displaced: (Double) throws -> (value: [Double], t: Double)
    ) throws -> Estimate {
        var evals = 0
        let model = g0.map { noiseFactor * u * max(abs($0), valueFloor) }
        // Every difference taken, kept (by reference) with its width: where some difference of a
        // component is exactly zero beside non-zero ones, G is quantized at these steps (its values
        // move in steps larger than `u·|G|`, as log(1 + x²) near 0 in Float, where 1 + x² rounds),
        // and the smallest non-zero change, not the noise model, is its noise (`quantized`). The
        // scan runs only when a zero was seen: the common path costs one append per difference.
        var taken: [(quotients: [Double], width: Double)] = []
        var sawZero = false
        func central(_ h: Double) throws -> [Double] {
            let (p, tp) = try displaced(h)
            let (m, tm) = try displaced(-h)
            evals += 2
            return difference(p, m, width: tp - tm)
        }
        func oneSided(_ h: Double) throws -> [Double] {
            let s: Double = side == .forward ? 1 : -1
            let (p, tp) = try displaced(s * h)
            evals += 1
            return difference(p, g0, width: tp)
        }
        func difference(_ a: [Double], _ b: [Double], width: Double) -> [Double] {
            var out = [Double](repeating: 0, count: a.count)
            var zero = false
            for i in a.indices {
                let c = a[i] - b[i]
                if c == 0 { zero = true }
                out[i] = c / width
            }
            if zero { sawZero = true }
            taken.append((out, width))
            return out
        }
        // The error of an entry with noise amplification `amp`, widened where G was seen quantized.
        func quantized(_ error: [Double], amplification amp: Double) -> (error: [Double], quantum: Double) {
            guard sawZero else { return (error, 0) }
            var error = error
            var q = 0.0
            for i in error.indices {
                var zero = false
                var smallest = Double.infinity
                for d in taken {
                    let c = abs(d.quotients[i] * d.width)
                    if c == 0 { zero = true } else { smallest = min(smallest, c) }
                }
                guard zero, smallest.isFinite else { continue }
                error[i] = max(error[i], amp * smallest)
                q = max(q, smallest)
            }
            return (error, q)
        }
        let first =
            side == .central
            ? try stepSelector.initialStep(
                scale: scale, noise: model.max() ?? 0, order: 2, minStep: minStep, difference: central)
            : try stepSelector.initialStep(
                scale: scale, noise: model.max() ?? 0, order: 1, minStep: minStep, difference: oneSided)
        // Noise of G, per component: the larger of a model (`noiseFactor · u · |G(0)|`) and a
        // measurement. The measurement is the fourth difference at spacing `h_n = h_0·u^{1/3}`
        // (`h_0` the selected first step):
        // its smooth part `h_n⁴ G⁗` is far below `u |G|`, so what remains is rounding noise,
        // amplified by `sqrt(1+16+36+16+1) = sqrt(70)` for independent errors. The model alone
        // misses functions that cancel (a small value computed from large terms).
        let hn = first.step * pow(u, 1.0 / 3)
        // One-sided: the forward (or backward) fourth difference on 0, 1, 2, 3, 4 instead.
        let offsets: [Double] =
            side == .central ? [-2, -1, 0, 1, 2] : (side == .forward ? [0, 1, 2, 3, 4] : [0, -1, -2, -3, -4])
        // Two rings at spacings `h_n` and `2.7 h_n` (independent samples): one fourth difference
        // can come out small by chance, and the noise of a function that cancels internally is
        // invisible to the model.
        // A function seen flat only below a quantum of change is as noisy as that quantum. Where
        // the selector saw no change at all (every difference exactly 0: a constant, or values
        // quantized more coarsely than the steps move them, like (C + x²) − C), the one-sided
        // changes |G(t) − G(0)| at steps growing 16× (up to 16¹³×) tell the two apart: the first change seen is
        // the quantum. A step that leaves the domain ends the probe.
        var quantum = first.quantum
        if first.found && quantum == 0 {
            let d0 = try side == .central ? central(first.step) : oneSided(first.step)
            if d0.allSatisfy({ $0 == 0 }) {
                // A change already at the selector's own step means the zero differences come from
                // symmetry (|x| or x² at 0), not from quantization: nothing to add then.
                var t = first.step
                for k in 0..<14 {
                    guard let v = try? displaced(side == .backward ? -t : t).value else { break }
                    evals += 1
                    let change = zip(v, g0).map { abs($0 - $1) }.max() ?? 0
                    if change > 0 {
                        if k > 0 { quantum = change }
                        break
                    }
                    t *= 16
                }
            }
        }
        var noise = model.map { max($0, quantum) }
        for spacing in [hn, 2.7 * hn] {
            let ring = try offsets.map { k -> [Double] in
                if k == 0 { return g0 }
                evals += 1
                return try displaced(k * spacing).value
            }
            for j in g0.indices {
                let d4 = ring[0][j] - 4 * ring[1][j] + 6 * ring[2][j] - 4 * ring[3][j] + ring[4][j]
                noise[j] = max(noise[j], 4 * abs(d4) / 70.0.squareRoot())
            }
        }
        switch method {
        case .richardson:
            let rich = Richardson(exponent: side == .central ? 2 : 1, ratio: richardsonRatio, maxRows: maxRows)
            func tableau(from h0: Double) throws -> (value: [Double], error: [Double], step: Double, amp: Double) {
                let out =
                    try side == .central
                    ? rich.extrapolate(from: h0, noise: noise.max() ?? 0, baseAmplification: { 1 / $0 }, central)
                    : rich.extrapolate(from: h0, noise: noise.max() ?? 0, baseAmplification: { 2 / $0 }, oneSided)
                // The tableau's estimate plus the noise the chosen entry carries.
                return (
                    out.value, zip(out.error, noise).map { $0 + out.noiseAmplification * $1 }, out.step,
                    out.noiseAmplification
                )
            }
            let a = try tableau(from: first.step)
            guard crossCheck else {
                let w = quantized(a.error, amplification: a.amp)
                return Estimate(
                    value: a.value, error: w.error, evaluations: evals, step: a.step,
                    regimeFound: first.found, side: side, quantum: max(quantum, w.quantum), firstStep: first.step)
            }
            // A second, independent tableau from a step 8 times smaller. Where the two agree
            // within their error estimates the better one is kept; where they do not, the first
            // step was outside the Taylor regime after all (an accidental agreement fooled the
            // selector): the finer tableau is kept and the disagreement becomes the error.
            let b = try tableau(from: first.step / 8)
            var value = a.value
            var error = a.error
            for j in value.indices {
                let gap = abs(a.value[j] - b.value[j])
                if gap > a.error[j] + b.error[j] {
                    value[j] = b.value[j]
                    error[j] = max(b.error[j], gap)
                } else {
                    // Agreement: keep the better estimate, but never claim more accuracy than the
                    // two independent estimates show (their spread bounds the error from below).
                    if b.error[j] < a.error[j] {
                        value[j] = b.value[j]
                        error[j] = b.error[j]
                    }
                    error[j] = max(error[j], gap)
                }
            }
            let w = quantized(error, amplification: max(a.amp, b.amp))
            return Estimate(
                value: value, error: w.error, evaluations: evals, step: min(a.step, b.step),
                regimeFound: first.found, side: side, quantum: max(quantum, w.quantum), firstStep: first.step)
        case .stencil(let points):
            let st = try Stencil(points: points, derivativeOrder: 1, side: side)
            let p = st.accuracyOrder + 1
            // Bound on the p-th derivative from a (p+2)-point stencil at the selected step.
            let hi = try Stencil(
                points: p + 2 - (side == .central && p % 2 == 0 ? 1 : 0), derivativeOrder: p, side: side)
            let hs = first.step
            let samples = try hi.grid.map { k -> [Double] in
                if k == 0 { return g0 }
                evals += 1
                return try displaced(k * hs).value
            }
            let mp = hi.apply(samples, step: hs).map(abs).max() ?? 0
            let tc =
                st.coefficients.enumerated().reduce(0.0) { $0 + $1.element * pow(st.grid[$1.offset], Double(p)) }
                / Double((1...p).reduce(1, *))
            // A derivative bound that overflowed (or noise beyond the range) leaves no optimal step:
            // the selected one is used, and the error below (∞ then) makes the verdict inconclusive.
            let h =
                (try? StepSelector.optimalStep(
                    stencil: st, noise: noise.max() ?? 0, derivativeBound: mp, truncationConstant: tc)) ?? hs
            let samp = try st.grid.map { k -> [Double] in
                if k == 0 { return g0 }
                evals += 1
                return try displaced(k * h).value
            }
            let value = st.apply(samp, step: h)
            let trunc = abs(tc) * mp * pow(h, Double(p - 1))
            let err = noise.map { trunc + st.noiseAmplification * $0 / h }
            return Estimate(
                value: value, error: err, evaluations: evals, step: h, regimeFound: first.found, side: side,
                firstStep: first.step)
        }
    }
}
