/// Checks hand-written derivatives against numerical ones.
///
/// Every check composes the same pieces: a direction (a coordinate or a random vector), the
/// ``DerivativeEstimator`` (step selection, then Richardson extrapolation, with an error
/// estimate per entry), and a verdict per entry:
///
///     |analytic − numerical| ≤ safety · errorEstimate + roundingUlps · u · scale
///
/// where `u` is the unit roundoff of the function's precision and `scale` the magnitude of the
/// compared quantity (the largest entry for a gradient or Jacobian, `Σ|a_i b_i|` for a dot
/// product). The second term is the rounding the *analytic* side is allowed: a hand-written
/// backward of a few dozen operations, each entry a short sum, has a relative error of order
/// `n u` of the largest term (`γ_n` bound). Nothing else is a fixed tolerance.
public struct GradientChecker: Sendable {
    public enum Size: Sendable, Equatable {
        /// Every entry (`n` directional derivatives).
        case full
        /// `trials` random projections, a constant number of evaluations whatever `n` is.
        case fast(trials: Int)
        /// Full up to `threshold` inputs, fast above.
        case automatic(threshold: Int)
    }

    public var estimator = DerivativeEstimator()
    public var size: Size = .automatic(threshold: 256)
    /// Multiplies the error estimate in the verdict (the estimate is a heuristic bound: on the
    /// accuracy suite it is ≥ the true error on ≥ 99% of entries; the factor covers the rest).
    public var safety: Double = 4
    /// Rounding allowance of the analytic side, in units of `u · scale`.
    public var roundingUlps: Double = 64
    /// Look at one-sided derivatives of failing entries and report kinks as kinks.
    public var detectKinks = true
    /// Re-estimate a failing entry from a 16× smaller first step and accept it if that
    /// independent estimate agrees (a wrong derivative disagrees with both).
    public var secondOpinion = true
    /// Seed of every random direction.
    public var seed: UInt64 = 0x5EED
    /// Typical scale of the input along a direction, for the first step; `nil`: `max(|x_j|, mean|x|)`
    /// (1 for an all-zero input).
    public var stepScale: Double?

    public init() {}

    // MARK: Gradient of f: ℝⁿ → ℝ

    /// Checks `gradient` against the numerical gradient of `f` at `x`.
    ///
    /// `termMagnitudes`, when given, is for each entry the magnitude of the terms the analytic
    /// value was computed from (for `(G − mean G − z·mean(Gz))/s`: `(|G| + mean|G| + |z| mean|Gz|)/s`).
    /// Its rounding allowance then scales with those terms rather than with the result, which
    /// matters where they cancel (a gradient of a nearly constant function).
    public func checkGradient<S: CheckScalar>(of f: ([S]) throws -> S, at x: [S], gradient: [S], termMagnitudes: [S]? = nil) throws -> CheckResult {
        if let t = termMagnitudes, t.count != x.count { throw GradientCheckError.sizeMismatch(what: "termMagnitudes", expected: x.count, actual: t.count) }
        return try checkJacobian(of: { [try f($0)] }, at: x, jacobian: [gradient], kind: .gradient, termMagnitudes: termMagnitudes.map { [$0] })
    }

    /// The same for any ``Flattenable`` value.
    public func checkGradient<T: Flattenable>(of f: (T) throws -> T.Scalar, at x: T, gradient: T) throws -> CheckResult {
        try checkGradient(of: { try f(x.unflattened($0)) }, at: x.flattened(), gradient: gradient.flattened(), termMagnitudes: nil)
    }

    /// The numerical gradient alone, with its per-entry error estimates.
    public func numericalGradient<S: CheckScalar>(of f: ([S]) throws -> S, at x: [S]) throws -> (value: [Double], error: [Double], evaluations: Int) {
        let j = try numericalJacobian(of: { [try f($0)] }, at: x)
        return (j.value.map { $0[0] }, j.error.map { $0[0] }, j.evaluations)
    }

    // MARK: Jacobian of g: ℝⁿ → ℝᵐ

    /// Numerical Jacobian, column by column: `value[j][i] = ∂g_i/∂x_j`.
    public func numericalJacobian<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S]) throws -> (value: [[Double]], error: [[Double]], evaluations: Int) {
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        try requireFinite(x, "input x")
        let g0 = try call("g(x)") { try g(x) }.map(Double.init)
        guard !g0.isEmpty else { throw GradientCheckError.emptyInput(what: "output g(x)") }
        var cols: [[Double]] = [], errs: [[Double]] = []
        var evals = 1
        for j in x.indices {
            let e = try directional({ p in try call("g(x + t e_\(j))") { try g(p) }.map(Double.init) }, x: x, g0: g0, coordinate: j, direction: nil, estimator: estimator)
            guard e.value.count == g0.count else { throw GradientCheckError.sizeMismatch(what: "output of g", expected: g0.count, actual: e.value.count) }
            cols.append(e.value); errs.append(e.error); evals += e.evaluations
        }
        return (cols, errs, evals)
    }

    /// Checks a full Jacobian, given as rows (`jacobian[i][j] = ∂g_i/∂x_j`).
    public func checkJacobian<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S], jacobian: [[S]]) throws -> CheckResult {
        try checkJacobian(of: g, at: x, jacobian: jacobian, kind: .jacobian)
    }

    func checkJacobian<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S], jacobian: [[S]], kind: CheckResult.Kind,
                                       termMagnitudes: [[S]]? = nil) throws -> CheckResult {
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        for (i, row) in jacobian.enumerated() where row.count != x.count {
            throw GradientCheckError.sizeMismatch(what: kind == .gradient ? "gradient" : "Jacobian row \(i)", expected: x.count, actual: row.count)
        }
        for row in jacobian { try requireFinite(row, kind == .gradient ? "gradient" : "Jacobian") }
        let num = try numericalJacobian(of: g, at: x)
        guard num.value[0].count == jacobian.count else {
            throw GradientCheckError.sizeMismatch(what: "Jacobian rows (outputs of g)", expected: num.value[0].count, actual: jacobian.count)
        }
        let scale = jacobian.flatMap { $0 }.map { abs(Double($0)) }.max() ?? 0
        // g(x), evaluated once, and only if some entry needs a second look.
        var g0Cache: [Double]?
        func g0() throws -> [Double] {
            if let v = g0Cache { return v }
            let v = try call("g(x)") { try g(x) }.map(Double.init)
            g0Cache = v
            return v
        }
        var entries: [EntryResult] = []
        for i in jacobian.indices {
            for j in x.indices {
                let idx = kind == .gradient ? [j] : [i, j]
                let entryScale = max(scale, termMagnitudes.map { abs(Double($0[i][j])) } ?? 0)
                var e = entry(idx, analytic: Double(jacobian[i][j]), numerical: num.value[j][i], error: num.error[j][i], scale: entryScale, u: S.unitRoundoff)
                if e.verdict == .mismatch && secondOpinion {
                    // An independent estimate, its first step 16× smaller: a wrong analytic value
                    // disagrees with both, while an unlucky estimate (an error estimate that fell
                    // short) rarely repeats from a different starting step.
                    let alt = try directional({ p in try call("g(x + t e_\(j))") { try g(p) }.map(Double.init) }, x: x, g0: g0(),
                                              coordinate: j, direction: nil, estimator: estimator, scaleFactor: 1.0 / 16)
                    let e2 = entry(idx, analytic: e.analytic, numerical: alt.value[i], error: alt.error[i], scale: entryScale, u: S.unitRoundoff)
                    if e2.verdict == .pass { e = e2 }
                }
                if e.verdict == .mismatch && detectKinks && estimator.side == .central {
                    e = try kinkCheck(e, g: g, x: x, g0: g0(), coordinate: j, output: i, scale: entryScale)
                }
                entries.append(e)
            }
        }
        return CheckResult(kind: kind, mode: .full, precision: "\(S.self)", entries: entries,
                           evaluations: num.evaluations, seed: seed)
    }

    // MARK: Products

    /// Checks a reverse-mode product `vjp(u) = Jᵀu`.
    /// Full mode compares `Jᵀu` for `u = e_i` (every output) with the numerical Jacobian;
    /// fast mode compares `⟨vjp(u), v⟩` with `d/dt ⟨u, g(x + t v)⟩` for random `u`, `v`.
    public func checkVJP<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S], vjp: ([S]) throws -> [S]) throws -> CheckResult {
        let m = try call("g(x)") { try g(x) }.count
        if useFast(x.count) {
            return try projected(g, x: x, outputs: m, kind: .vectorJacobianProduct) { u, v in
                let a = try call("vjp(u)") { try vjp(u) }
                guard a.count == x.count else { throw GradientCheckError.sizeMismatch(what: "vjp(u)", expected: x.count, actual: a.count) }
                return zip(a, v).map { Double($0) * Double($1) }
            }
        }
        let rows = try (0..<m).map { i -> [S] in
            var u = [S](repeating: 0, count: m); u[i] = 1
            let r = try call("vjp(e_\(i))") { try vjp(u) }
            guard r.count == x.count else { throw GradientCheckError.sizeMismatch(what: "vjp(e_\(i))", expected: x.count, actual: r.count) }
            return r
        }
        var r = try checkJacobian(of: g, at: x, jacobian: rows, kind: .vectorJacobianProduct)
        r.evaluations += m
        return r
    }

    /// Checks a forward-mode product `jvp(v) = J v`.
    public func checkJVP<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S], jvp: ([S]) throws -> [S]) throws -> CheckResult {
        let m = try call("g(x)") { try g(x) }.count
        if useFast(x.count) {
            return try projected(g, x: x, outputs: m, kind: .jacobianVectorProduct) { u, v in
                let a = try call("jvp(v)") { try jvp(v) }
                guard a.count == m else { throw GradientCheckError.sizeMismatch(what: "jvp(v)", expected: m, actual: a.count) }
                return zip(a, u).map { Double($0) * Double($1) }
            }
        }
        var cols: [[S]] = []
        for j in x.indices {
            var v = [S](repeating: 0, count: x.count); v[j] = 1
            let c = try call("jvp(e_\(j))") { try jvp(v) }
            guard c.count == m else { throw GradientCheckError.sizeMismatch(what: "jvp(e_\(j))", expected: m, actual: c.count) }
            cols.append(c)
        }
        let rows = (0..<m).map { i in x.indices.map { cols[$0][i] } }
        var r = try checkJacobian(of: g, at: x, jacobian: rows, kind: .jacobianVectorProduct)
        r.evaluations += x.count
        return r
    }

    /// The dot-product (adjoint) test `⟨u, J v⟩ = ⟨Jᵀu, v⟩` between a forward and a reverse
    /// product, for `trials` random pairs; no finite differences. The allowance is
    /// `roundingUlps · u · (n + m) · (Σ|u_i (Jv)_i| + Σ|(Jᵀu)_j v_j|)`: each product entry is a
    /// length-`n` or `m` sum whose rounding is `γ_n` of its absolute terms.
    public func adjointTest<S: CheckScalar>(inputs n: Int, outputs m: Int, trials: Int = 4,
                                            jvp: ([S]) throws -> [S], vjp: ([S]) throws -> [S]) throws -> CheckResult {
        guard n > 0 else { throw GradientCheckError.emptyInput(what: "inputs") }
        guard m > 0 else { throw GradientCheckError.emptyInput(what: "outputs") }
        guard trials > 0 else { throw GradientCheckError.invalidOption(name: "trials", requirement: "must be ≥ 1") }
        var rng = SeededGenerator(seed: seed)
        var entries: [EntryResult] = []
        for k in 0..<trials {
            let u = (0..<m).map { _ in S(rng.normal()) }
            let v = (0..<n).map { _ in S(rng.normal()) }
            let jv = try call("jvp(v)") { try jvp(v) }
            let jtu = try call("vjp(u)") { try vjp(u) }
            guard jv.count == m else { throw GradientCheckError.sizeMismatch(what: "jvp(v)", expected: m, actual: jv.count) }
            guard jtu.count == n else { throw GradientCheckError.sizeMismatch(what: "vjp(u)", expected: n, actual: jtu.count) }
            let lhs = zip(u, jv).map { Double($0) * Double($1) }
            let rhs = zip(jtu, v).map { Double($0) * Double($1) }
            let scale = lhs.map(abs).reduce(0, +) + rhs.map(abs).reduce(0, +)
            let a = lhs.reduce(0, +), b = rhs.reduce(0, +)
            let allowed = roundingUlps * S.unitRoundoff * Double(n + m) * scale
            let d = abs(a - b)
            entries.append(EntryResult(index: [k], analytic: a, numerical: b, errorEstimate: 0, allowed: allowed,
                                       absoluteError: d, relativeError: d / max(abs(b), scale * S.unitRoundoff, .leastNormalMagnitude),
                                       verdict: d <= allowed ? .pass : .mismatch))
        }
        return CheckResult(kind: .adjoint, mode: .fast, precision: "\(S.self)", entries: entries, evaluations: 2 * trials, seed: seed)
    }

    /// Checks a Hessian–vector product against `d/dt ∇f(x + t v)`, differentiating the
    /// caller's `gradient` numerically, for `trials` random directions `v`.
    public func checkHVP<S: CheckScalar>(gradient: ([S]) throws -> [S], at x: [S], hvp: ([S]) throws -> [S], trials: Int = 2) throws -> CheckResult {
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        try requireFinite(x, "input x")
        let g0 = try call("gradient(x)") { try gradient(x) }.map(Double.init)
        guard g0.count == x.count else { throw GradientCheckError.sizeMismatch(what: "gradient(x)", expected: x.count, actual: g0.count) }
        var rng = SeededGenerator(seed: seed)
        var entries: [EntryResult] = []
        var evals = 1
        for k in 0..<trials {
            let v = (0..<x.count).map { _ in rng.normal() }
            let hv = try call("hvp(v)") { try hvp(v.map { S($0) }) }.map(Double.init)
            guard hv.count == x.count else { throw GradientCheckError.sizeMismatch(what: "hvp(v)", expected: x.count, actual: hv.count) }
            // v rounded to S, so the analytic and numerical sides use the same direction.
            let vs = v.map { Double(S($0)) }
            let e = try directional({ p in try call("gradient(x + t v)") { try gradient(p) }.map(Double.init) }, x: x, g0: g0, coordinate: nil, direction: vs, estimator: estimator)
            evals += e.evaluations
            let scale = hv.map(abs).max() ?? 0
            for i in x.indices {
                entries.append(entry([k, i], analytic: hv[i], numerical: e.value[i], error: e.error[i], scale: scale, u: S.unitRoundoff))
            }
        }
        return CheckResult(kind: .hessianVectorProduct, mode: .fast, precision: "\(S.self)", entries: entries, evaluations: evals, seed: seed)
    }

    // MARK: Pieces

    func useFast(_ n: Int) -> Bool {
        switch size {
        case .full: return false
        case .fast: return true
        case .automatic(let t): return n > t
        }
    }

    var trials: Int { if case .fast(let t) = size { return max(t, 1) } else { return 4 } }

    /// Fast mode: `⟨u, J v⟩` numerically (one directional derivative of the scalar
    /// `⟨u, g(x + t v)⟩`) against the caller's product; `analyticTerms(u, v)` returns the terms
    /// of the analytic dot product.
    func projected<S: CheckScalar>(_ g: ([S]) throws -> [S], x: [S], outputs m: Int, kind: CheckResult.Kind,
                                   analyticTerms: ([S], [S]) throws -> [Double]) throws -> CheckResult {
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        guard m > 0 else { throw GradientCheckError.emptyInput(what: "output g(x)") }
        try requireFinite(x, "input x")
        var rng = SeededGenerator(seed: seed)
        var entries: [EntryResult] = []
        var evals = 0
        for k in 0..<trials {
            let u = (0..<m).map { _ in S(rng.normal()) }
            let v = (0..<x.count).map { _ in S(rng.normal()) }
            let e = try withoutActuallyEscaping(g) { g in
                let ug: ([S]) throws -> [Double] = { p in
                    let y = try call("g(x + t v)") { try g(p) }
                    guard y.count == m else { throw GradientCheckError.sizeMismatch(what: "output of g", expected: m, actual: y.count) }
                    // The projection in Double: the only rounding added is that of this dot product.
                    return [zip(u, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }]
                }
                return try directional(ug, x: x, g0: ug(x), coordinate: nil, direction: v.map(Double.init), estimator: estimator)
            }
            evals += e.evaluations + 1
            let terms = try analyticTerms(u, v)
            let a = terms.reduce(0, +)
            let scale = terms.map(abs).reduce(0, +)
            entries.append(entry([k], analytic: a, numerical: e.value[0], error: e.error[0], scale: scale, u: S.unitRoundoff))
        }
        return CheckResult(kind: kind, mode: .fast, precision: "\(S.self)", entries: entries, evaluations: evals, seed: seed)
    }

    /// `d/dt g(x + t d)` where `d` is the coordinate vector `e_j` or `direction`.
    func directional<S: CheckScalar>(_ g: ([S]) throws -> [Double], x: [S], g0: [Double], coordinate: Int?, direction: [Double]?,
                                     estimator: DerivativeEstimator, scaleFactor: Double = 1) throws -> DerivativeEstimator.Estimate {
        let dnorm = direction.map { $0.map(abs).max() ?? 1 } ?? 1
        // The input's own scale sets the first step: the entry's magnitude, but at least the
        // mean magnitude of the input (an entry near 0 among entries of size s still varies
        // the function on the scale s), and 1 only when the whole input is 0.
        let meanAbs = x.reduce(0.0) { $0 + abs(Double($1)) } / Double(x.count)
        let entry = coordinate.map { abs(Double(x[$0])) } ?? (x.map { abs(Double($0)) }.max() ?? 0)
        let typical = max(entry, meanAbs)
        let scale = scaleFactor * (stepScale ?? (typical > 0 ? typical : 1)) / max(dnorm, .leastNormalMagnitude)
        return try estimator.estimate(g0: g0, unitRoundoff: S.unitRoundoff, scale: scale) { t in
            var p = x
            var applied = t
            if let j = coordinate {
                p[j] = S(Double(x[j]) + t)
                // The displacement actually applied, exactly (Sterbenz): rounding x + t to S
                // must not be mistaken for part of the derivative.
                applied = Double(p[j]) - Double(x[j])
                if applied == 0 {
                    // Below half an ulp of x_j: take the nearest representable neighbour instead.
                    p[j] = t > 0 ? x[j].nextUp : x[j].nextDown
                    applied = Double(p[j]) - Double(x[j])
                }
            } else if let d = direction {
                for i in p.indices { p[i] = S(Double(x[i]) + t * d[i]) }
            }
            guard applied != 0 else { throw GradientCheckError.invalidOption(name: "step", requirement: "step \(t) vanishes at this x in \(S.self); set stepScale") }
            return (try g(p), applied)
        }
    }

    func entry(_ index: [Int], analytic a: Double, numerical n: Double, error: Double, scale: Double, u: Double) -> EntryResult {
        let allowed = safety * error + roundingUlps * u * scale
        let d = abs(a - n)
        return EntryResult(index: index, analytic: a, numerical: n, errorEstimate: error, allowed: allowed, absoluteError: d,
                           relativeError: d / max(abs(n), scale * u, .leastNormalMagnitude),
                           verdict: d <= allowed ? .pass : .mismatch)
    }

    /// Re-examines a failing entry with one-sided derivatives: if they disagree beyond their
    /// error estimates, the point is a kink and the entry is reported as such.
    func kinkCheck<S: CheckScalar>(_ e: EntryResult, g: ([S]) throws -> [S], x: [S], g0: [Double], coordinate j: Int, output i: Int, scale: Double) throws -> EntryResult {
        var left = estimator; left.side = .backward
        var right = estimator; right.side = .forward
        let l = try directional({ p in try call("g (left)") { try g(p) }.map(Double.init) }, x: x, g0: g0, coordinate: j, direction: nil, estimator: left)
        let r = try directional({ p in try call("g (right)") { try g(p) }.map(Double.init) }, x: x, g0: g0, coordinate: j, direction: nil, estimator: right)
        var out = e
        out.left = l.value[i]
        out.right = r.value[i]
        let gap = abs(l.value[i] - r.value[i])
        // A kink must be resolved beyond the one-sided error estimates *and* be large enough to
        // explain the mismatch (at a kink the central value is the mean of the two sides, so an
        // analytic one-sided value differs from it by half the jump); otherwise it is a mismatch.
        if gap > safety * (l.error[i] + r.error[i]) + roundingUlps * S.unitRoundoff * scale && gap >= e.absoluteError {
            out.verdict = .kink
        }
        return out
    }
}

func requireFinite<S: CheckScalar>(_ v: [S], _ what: String) throws {
    if let i = v.firstIndex(where: { !$0.isFinite }) {
        throw GradientCheckError.nonFiniteValue(point: "\(what) entry \(i)", value: "\(v[i])")
    }
}
