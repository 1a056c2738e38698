#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A least-squares refinement: `pairs` symmetric sample pairs at `±halfWidth (k + shift) / pairs`,
/// `k = 0 ..< pairs` (`shift` in (0, 1]: two shifts give disjoint, independent sample sets).
struct LeastSquaresRequest: Sendable {
    var halfWidth: Double
    var pairs: Int
    var shift: Double
}

/// Thrown by a displaced evaluation where the function is undefined (non-finite or throwing):
/// the sampler shrinks the step or changes side instead of giving up.
struct UndefinedAtTrialPoint: Error {}

extension DerivativeEstimator {
    /// `d/dt g(x + t d)`, where `d` is the coordinate vector `e_j` (`coordinate`) or `direction`,
    /// with the domain handled: where `g` is non-finite or throws at a trial point the first step
    /// is shrunk 8× (up to `domainRetries` times), then the other sides are tried (forward, then
    /// backward, for a central request). Only when every attempt fails is the estimate marked
    /// ``InconclusiveReason/undefinedNearby``. A different `alternativeScale` is tried once when
    /// the first scale never shows the Taylor regime (mixed-scale inputs).
    ///
    /// - Throws: ``GradientCheckError/sizeMismatch(what:expected:actual:)`` when `g` changes its
    ///   output length; the caller's other errors at trial points are treated as "undefined there".
    @_specialize(where S == Float, O == Float)
    @_specialize(where S == Double, O == Double)
    func sample<S: CheckScalar, O: BinaryFloatingPoint>(
        _ g: ([S]) throws -> [O], at x: [S], g0: [Double], coordinate: Int?,
        direction: [Double]?, scale rawScale: Double, alternativeScale: Double? = nil,
        maxStep: Double?, domainRetries: Int = 8, leastSquares: LeastSquaresRequest? = nil
    ) throws -> Estimate {
        let minStep = Self.minimumStep(x, coordinate: coordinate, direction: direction)
        // Each output component above 1 divided by a power of two near |G(0)| (exact): differences
        // and the tableau's combinations of values near the overflow threshold stay finite.
        let sigma = g0.map { v -> Double in
            abs(v) > 1 && v.isFinite ? Double(sign: .plus, exponent: v.exponent, significand: 1) : 1
        }
        let g0 = zip(g0, sigma).map { $0 / $1 }
        let valueFloor = Double(S.leastNormalMagnitude) / (sigma.max() ?? 1)
        // Never start below the normal range of S: a step that is itself subnormal carries few bits.
        let floorScale = Double(S.leastNormalMagnitude) / Double(S.ulpOfOne)
        func clamp(_ s: Double) -> Double {
            var s = max(s, floorScale, 64 * minStep)
            if let m = maxStep { s = min(s, 4 * m) }
            return s
        }
        func evaluate(_ p: [S]) throws -> [Double] {
            let y: [O]
            do { y = try g(p) } catch let e as GradientCheckError {
                if case .sizeMismatch = e { throw e }
                throw UndefinedAtTrialPoint()
            } catch { throw UndefinedAtTrialPoint() }
            guard y.count == g0.count else {
                throw GradientCheckError.sizeMismatch(
                    what: "output of the function at a trial point", expected: g0.count, actual: y.count)
            }
            var out = [Double](repeating: 0, count: y.count)
            for i in y.indices {
                guard y[i].isFinite else { throw UndefinedAtTrialPoint() }
                out[i] = Double(y[i]) / sigma[i]
            }
            return out
        }
        func displaced(_ t: Double) throws -> (value: [Double], t: Double) {
            var p = x
            var applied = t
            if let j = coordinate {
                p[j] = S(Double(x[j]) + t)
                guard p[j].isFinite else { throw UndefinedAtTrialPoint() }
                // The displacement actually applied, exactly (Sterbenz): rounding x + t to S
                // must not be mistaken for part of the derivative.
                applied = Double(p[j]) - Double(x[j])
                if applied == 0 {
                    p[j] = t > 0 ? x[j].nextUp : x[j].nextDown
                    applied = Double(p[j]) - Double(x[j])
                }
            } else if let d = direction {
                for i in p.indices {
                    p[i] = S(Double(x[i]) + t * d[i])
                    guard p[i].isFinite else { throw UndefinedAtTrialPoint() }
                }
            }
            guard applied != 0, applied.isFinite else { throw UndefinedAtTrialPoint() }
            return (try evaluate(p), applied)
        }
        func unscaled(_ e: Estimate) -> Estimate {
            var e = e
            e.value = zip(e.value, sigma).map { $0 * $1 }
            e.error = zip(e.error, sigma).map { $0 * $1 }
            return e
        }
        if let request = leastSquares {
            // Symmetric samples at ±H (k + shift) / pairs and the centre; any undefined point ends it.
            var ts = [0.0]
            var ys = [g0]
            do {
                for k in 0..<request.pairs {
                    let t = request.halfWidth * (Double(k) + request.shift) / Double(request.pairs)
                    for signed in [t, -t] {
                        let (v, applied) = try displaced(signed)
                        ts.append(applied)
                        ys.append(v)
                    }
                }
            } catch is UndefinedAtTrialPoint {
                let inf = [Double](repeating: .infinity, count: g0.count)
                return Estimate(
                    value: [Double](repeating: 0, count: g0.count), error: inf, evaluations: ts.count, step: 0,
                    regimeFound: false, side: .central, failure: .undefinedNearby)
            }
            let fit = LeastSquaresDerivative(t: ts, values: ys, halfWidth: request.halfWidth).estimate()
            return unscaled(
                Estimate(
                    value: fit.value, error: fit.error, evaluations: ts.count - 1,
                    step: request.halfWidth / Double(request.pairs), regimeFound: true, side: .central,
                    firstStep: request.halfWidth))
        }
        let sides: [Stencil.Side] = side == .central ? [.central, .forward, .backward] : [side]
        var spent = 0
        for s in sides {
            var est = self
            est.side = s
            var scale = clamp(rawScale)
            for _ in 0...max(domainRetries, 0) {
                do {
                    var e = try est.estimate(
                        g0: g0, unitRoundoff: S.unitRoundoff, valueFloor: valueFloor,
                        scale: scale, minStep: minStep, displaced: displaced)
                    e.evaluations += spent
                    // Mixed scales: an input entry much smaller than the input's typical size may
                    // vary the function on its own scale. Both are tried; two "asymptotic"
                    // estimates that disagree mean one of them was an accident.
                    if let alt = alternativeScale.map(clamp), alt < scale / 8,
                        let e2 = try? est.estimate(
                            g0: g0, unitRoundoff: S.unitRoundoff, valueFloor: valueFloor, scale: alt,
                            minStep: minStep, displaced: displaced)
                    {
                        let evals = e.evaluations + e2.evaluations
                        if !e.regimeFound {
                            e = e2
                        } else if e2.regimeFound {
                            let agree = e.value.indices.allSatisfy {
                                abs(e.value[$0] - e2.value[$0]) <= 4 * (e.error[$0] + e2.error[$0])
                            }
                            if !agree {
                                e.failure = .estimatesDisagree
                            } else if (e2.error.max() ?? 0) < (e.error.max() ?? 0) {
                                e = e2
                            }
                        }
                        e.evaluations = evals
                    }
                    return unscaled(e)
                } catch is UndefinedAtTrialPoint {
                    spent += 1
                    scale /= 8
                    if scale / 4 < minStep { break }
                }
            }
        }
        let inf = [Double](repeating: .infinity, count: g0.count)
        return Estimate(
            value: [Double](repeating: 0, count: g0.count), error: inf, evaluations: spent, step: 0,
            regimeFound: false, side: side, failure: .undefinedNearby)
    }

    /// The smallest first step worth taking: `2¹⁰` ulps of the displaced coordinate (per unit of
    /// the direction), so that every step of the tableau moves `x` by many representable values.
    static func minimumStep<S: CheckScalar>(_ x: [S], coordinate: Int?, direction: [Double]?) -> Double {
        if let j = coordinate { return 1024 * Double(x[j].ulp) }
        guard let d = direction else { return 0 }
        var m = 0.0
        for i in x.indices where d[i] != 0 { m = max(m, 1024 * Double(x[i].ulp) / abs(d[i])) }
        return m
    }

    // MARK: The public primitive

    /// The derivative of `f: ℝ → ℝ` at `x` with an error estimate, by Richardson extrapolation
    /// (FiniteDifferences.jl's `fdm(f, x)`): the building block every check here is composed of.
    ///
    /// - Parameters:
    ///   - f: the function, in `Float` or `Double`.
    ///   - x: the point.
    ///   - stepScale: the scale on which `f` varies near `x` (default `max(|x|, 1)`).
    ///   - maxStep: an upper bound on the first step (for example the distance to a domain edge).
    /// - Returns: the estimate; check ``Estimate/regimeFound`` and ``Estimate/failure`` before
    ///   trusting ``Estimate/error``.
    /// - Throws: ``GradientCheckError`` for an invalid option, a non-finite `x` or `f(x)`, or a
    ///   throwing `f(x)`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func derivative<S: CheckScalar>(
        of f: (S) throws -> S, at x: S, stepScale: Double? = nil,
        maxStep: Double? = nil
    ) throws -> Estimate {
        try validate()
        try requireFinite([x], "input x")
        try validateStep(stepScale, "stepScale")
        try validateStep(maxStep, "maxStep")
        func g(_ p: [S]) throws -> [S] { [try f(p[0])] }
        let g0 = try call("f(x)") { try g([x]) }.map(Double.init)
        var e = try sample(
            g, at: [x], g0: g0, coordinate: 0, direction: nil, scale: stepScale ?? max(abs(Double(x)), 1),
            maxStep: maxStep)
        e.evaluations += 1
        return e
    }

    /// `d/dt g(x + t v)` at `t = 0` for `g: ℝⁿ → ℝᵐ`, per output component, with error estimates.
    ///
    /// - Parameters:
    ///   - g: the function; its output length must not change between calls.
    ///   - x: the point (`n` entries).
    ///   - v: the direction (`n` entries, not all zero).
    ///   - stepScale: the input's scale along `v` (default `max|x_i|`, or 1 for `x = 0`).
    ///   - maxStep: an upper bound on the first step.
    /// - Returns: `m` values and error bounds.
    /// - Throws: ``GradientCheckError`` for empty or mismatched sizes, non-finite input, a zero
    ///   direction, or an invalid option; `g` throwing or non-finite at `x` itself.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func directionalDerivative<S: CheckScalar>(
        of g: ([S]) throws -> [S], at x: [S], along v: [S],
        stepScale: Double? = nil, maxStep: Double? = nil
    ) throws -> Estimate {
        try validate()
        try requireValidPoint(x, v, "direction")
        let vmax = v.map { abs(Double($0)) }.max() ?? 0
        guard vmax > 0 else {
            throw GradientCheckError.invalidOption(name: "direction", requirement: "must not be zero")
        }
        try validateStep(stepScale, "stepScale")
        try validateStep(maxStep, "maxStep")
        let g0 = try call("g(x)") { try g(x) }.map(Double.init)
        guard !g0.isEmpty else { throw GradientCheckError.emptyInput(what: "output g(x)") }
        let typical = x.map { abs(Double($0)) }.max() ?? 0
        let scale = (stepScale ?? (typical > 0 ? typical : 1)) / vmax
        var e = try sample(
            g, at: x, g0: g0, coordinate: nil, direction: v.map(Double.init), scale: scale, maxStep: maxStep)
        e.evaluations += 1
        return e
    }
}

func validateStep(_ s: Double?, _ name: String) throws {
    if let s, !(s.isFinite && s > 0) {
        throw GradientCheckError.invalidOption(name: name, requirement: "must be finite and > 0, got \(s)")
    }
}
