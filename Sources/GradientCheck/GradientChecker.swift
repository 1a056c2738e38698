import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks hand-written derivatives against numerical ones, with a three-valued verdict.
///
/// Every check composes the same pieces: a direction (a coordinate or a random vector), the
/// domain-aware ``DerivativeEstimator`` (step selection, Richardson extrapolation, an error
/// estimate per entry), and a verdict per entry judged on that entry alone:
///
///     allowed = safety · errorEstimate + roundingUnits · u · max(|analytic|, |numerical|, terms)
///
/// - `mismatch` when `|analytic − numerical| > allowed` and the function was seen to be smooth;
/// - `pass` when it is within `allowed` *and* `allowed / max(|analytic|, |numerical|)` — the
///   smallest relative error the check could have seen — is at most `resolution / 2` (the other
///   half covers the numerical value's own error, so an error of `resolution` is always caught);
/// - `inconclusive` otherwise, with a typed ``InconclusiveReason``; an entry left undecided by the
///   tableaux is first refined by least-squares fits (``refineUndecided``).
///
/// `u` is the unit roundoff of the function's precision; the second term is the rounding the
/// *analytic* side is allowed (a hand-written backward of a few dozen operations has a relative
/// error of order `n u` of its terms, the `γ_n` bound). Nothing else is a fixed tolerance.
/// A second, independent estimate can only add evidence: it confirms a failure, turns it into
/// `inconclusive` when the two estimates disagree, or tightens a band that was too wide.
public struct GradientChecker: Sendable {
    public enum Size: Sendable, Equatable {
        /// Every entry (`n` directional derivatives).
        case full
        /// `trials` random projections `uᵀJv`, a constant number of evaluations whatever `n` is;
        /// a failed projection is traced to the input entry responsible by bisection. Each verdict
        /// is about a projection, judged against the magnitude of its terms: an error in an entry
        /// far smaller than the others can go unseen (use `.full` for such gradients).
        case fast(trials: Int)
        /// Full up to `threshold` inputs, fast above.
        case automatic(threshold: Int)
    }

    public var estimator = DerivativeEstimator()
    public var size: Size = .automatic(threshold: 256)
    /// Multiplies the error estimate in the verdict (the estimate is a heuristic bound: on the
    /// accuracy suite it is ≥ the true error on ≥ 99% of entries; the factor covers the rest).
    /// Finite, in `[1, 1000]`.
    public var safety: Double = 4
    /// Rounding allowance of the analytic side, in units of `u · magnitude` of the entry.
    public var roundingUnits: Double = 64
    /// The former name of ``roundingUnits`` (it is in units of the unit roundoff `u`, not ulps).
    @available(*, deprecated, renamed: "roundingUnits")
    public var roundingUlps: Double {
        get { roundingUnits }
        set { roundingUnits = newValue }
    }
    /// The relative error a `pass` guarantees would have been caught (`nil`: 1e-6 for Double,
    /// 1e-3 for Float): an entry passes only when its band is at most half of it. In `(0, 1)`.
    public var resolution: Double?
    /// Look at one-sided derivatives of failing entries and report kinks as kinks.
    public var detectKinks = true
    /// Re-estimate a failing or undecided entry from a 16× smaller first step (evidence only adds).
    public var secondOpinion = true
    /// Seed of every random direction.
    public var seed: UInt64 = 0x5EED
    /// Typical scale of the input along a direction, for the first step; `nil`: `max(|x_j|, mean|x|)`
    /// per coordinate (1 for an all-zero input), with `|x_j|` tried too when that never shows the regime.
    public var stepScale: Double?
    /// Per-coordinate step scales (overrides `stepScale` for coordinate directions); `n` entries.
    public var stepScales: [Double]?
    /// An upper bound on the first step (FiniteDifferences.jl's `max_range`), e.g. the distance
    /// to a domain edge.
    public var maxStep: Double?
    /// Threads that estimate Jacobian columns at once in full mode (`checkGradient`,
    /// `checkJacobian`); 1 to 64, default 1. Above 1 the function is called from several threads
    /// at once, so it must be safe to call concurrently (no shared mutable state). The verdicts
    /// do not depend on it: each column is estimated exactly as it would be alone.
    public var concurrentColumns: Int = 1
    /// Accept a Jacobian column (full mode) from one Richardson tableau, without the cross-check
    /// tableau, when every entry of the column passes with a detectable relative error at most
    /// `resolution / 16` (default `true`). Why this cannot pass a wrong derivative that the full
    /// procedure would catch: the cross-check guards against a first step outside the Taylor
    /// regime, whose estimate is off while its band is narrow; a wrong analytic value would have
    /// to land inside that narrow band around the off estimate, for every entry of the column, to
    /// pass. Anything short of such a pass (a mismatch, a wide band, a failure) runs the full
    /// procedure from the start, so mismatches, second opinions and kink checks are unchanged.
    /// Measured effect: about 30% fewer evaluations on the accuracy suite, the same detection power.
    public var quickAccept = true
    /// Refine an entry the tableaux left undecided (band too wide, or estimates disagreeing) by
    /// least-squares fits to many samples (``LeastSquaresDerivative``), which average the
    /// function's rounding noise: two fits on disjoint sample sets of 2·32, 2·128, then 2·512
    /// points (then windows 4× and 16× wider), until both decide. Both must agree with each other
    /// and with the tableau (and a wider window with the narrower one); a mismatch needs both fits
    /// to see it beyond twice their band, a pass needs both to resolve `resolution`. Default
    /// `true`; it matters in `Float`, where rounding noise, not truncation, limits the tableau
    /// (LayerNorm of 64 channels: planted 1e-3 errors detected in 50% of trials without it).
    public var refineUndecided = true

    public init() {}

    /// Throws ``GradientCheckError/invalidOption(name:requirement:)`` for any option outside its domain.
    public func validate() throws {
        try estimator.validate()
        try validateVerdictOptions(safety: safety, roundingUnits: roundingUnits, resolution: resolution)
        try validateStep(stepScale, "stepScale")
        try validateStep(maxStep, "maxStep")
        for s in stepScales ?? [] { try validateStep(s, "stepScales entry") }
        guard (1...64).contains(concurrentColumns) else {
            throw GradientCheckError.invalidOption(
                name: "concurrentColumns", requirement: "must be in 1...64, got \(concurrentColumns)")
        }
        switch size {
        case .full: break
        case .fast(let t):
            guard (1...100_000).contains(t) else {
                throw GradientCheckError.invalidOption(
                    name: "size", requirement: "fast(trials:) needs 1...100000 trials, got \(t)")
            }
        case .automatic(let t):
            guard t >= 0 else {
                throw GradientCheckError.invalidOption(
                    name: "size", requirement: "automatic(threshold:) needs ≥ 0, got \(t)")
            }
        }
    }

    func resolution(_ u: Double) -> Double { resolution ?? (u < 1e-10 ? 1e-6 : 1e-3) }

    // MARK: Gradient of f: ℝⁿ → ℝ

    /// Checks `gradient` against the numerical gradient of `f` at `x`.
    ///
    /// - Parameters:
    ///   - f: the function (any ``Flattenable`` input: `[Float]`, `[Double]`, SIMD vectors, your structs).
    ///   - x: the point.
    ///   - gradient: the claimed `∇f(x)`, same structure as `x`.
    ///   - termMagnitudes: optional, per entry, the magnitude of the terms the analytic value was
    ///     computed from (for `(G − mean G − z·mean(Gz))/s`: `(|G| + mean|G| + |z| mean|Gz|)/s`);
    ///     its rounding allowance then scales with those terms, which matters where they cancel,
    ///     and the entry's resolution is measured against them (an entry that cancels to near 0
    ///     is known only relative to its terms).
    /// - Returns: one entry per input entry, or per trial in fast mode.
    /// - Throws: ``GradientCheckError`` for empty input, size mismatches, non-finite values at `x`,
    ///   invalid options, or `f` throwing at `x` itself.
    @_specialize(where T == [Float])
    @_specialize(where T == [Double])
    public func checkGradient<T: Flattenable>(
        of f: (T) throws -> T.Scalar, at x: T, gradient: T,
        termMagnitudes: T? = nil
    ) throws -> CheckResult {
        try checkGradient(of: f, at: x, gradient: gradient, termMagnitudes: termMagnitudes, flattenable: ())
    }

    /// The same for `[Double]`: with untyped literals (`at: [1], gradient: [2]`) the closure's
    /// argument type is taken to be `[Double]`, so such calls are never ambiguous.
    public func checkGradient(
        of f: ([Double]) throws -> Double, at x: [Double], gradient: [Double],
        termMagnitudes: [Double]? = nil
    ) throws -> CheckResult {
        try withoutActuallyEscaping(f) { f in
            try checkGradient(
                of: f as ([Double]) throws -> Double, at: x as [Double], gradient: gradient,
                termMagnitudes: termMagnitudes as [Double]?, flattenable: ())
        }
    }

    // Specialized for the common inputs: the unspecialized body looks up generic metadata at every
    // evaluation of `f` (measured: 30% of the detection-power study's time).
    @_specialize(where T == [Float])
    @_specialize(where T == [Double])
    func checkGradient<T: Flattenable>(
        of f: (T) throws -> T.Scalar, at x: T, gradient: T, termMagnitudes: T?,
        flattenable: Void
    ) throws -> CheckResult {
        let xs = x.flattened()
        let gs = gradient.flattened()
        let ts = termMagnitudes?.flattened()
        if let t = ts, t.count != xs.count {
            throw GradientCheckError.sizeMismatch(what: "termMagnitudes", expected: xs.count, actual: t.count)
        }
        if let t = ts, let i = t.firstIndex(where: { !($0 >= 0 && $0.isFinite) }) {
            throw GradientCheckError.invalidOption(
                name: "termMagnitudes[\(i)]", requirement: "must be finite and ≥ 0, got \(t[i])")
        }
        return try withoutActuallyEscaping(f) { f in
            try checkJacobian(
                of: { [try f(try x.unflattened($0))] }, at: xs, jacobian: [gs], kind: .gradient,
                termMagnitudes: ts.map { [$0] })
        }
    }

    /// The numerical gradient alone, with its per-entry error estimates (`+∞` where undecidable).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func numericalGradient<S: CheckScalar>(of f: ([S]) throws -> S, at x: [S]) throws -> (
        value: [Double], error: [Double], evaluations: Int
    ) {
        let j = try numericalJacobian(of: { [try f($0)] }, at: x)
        return (j.value.map { $0[0] }, j.error.map { $0[0] }, j.evaluations)
    }

    // MARK: Jacobian of g: ℝⁿ → ℝᵐ

    /// Numerical Jacobian, column by column: `value[j][i] = ∂g_i/∂x_j`; the error is `+∞` where
    /// the column could not be estimated (no smooth regime, or undefined nearby).
    ///
    /// - Throws: ``GradientCheckError`` for empty input or output, non-finite `x` or `g(x)`, or
    ///   an invalid option.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func numericalJacobian<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S]) throws -> (
        value: [[Double]], error: [[Double]], evaluations: Int
    ) {
        try validate()
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        try requireFinite(x, "input x")
        let g0 = try call("g(x)") { try g(x) }.map(Double.init)
        guard !g0.isEmpty else { throw GradientCheckError.emptyInput(what: "output g(x)") }
        var cols: [[Double]] = []
        var errs: [[Double]] = []
        var evals = 1
        for j in x.indices {
            let e = try column(g, x: x, g0: g0, j: j)
            cols.append(e.value)
            errs.append(e.regimeFound ? e.error : e.error.map { _ in .infinity })
            evals += e.evaluations
        }
        return (cols, errs, evals)
    }

    /// Checks a full Jacobian, given as rows (`jacobian[i][j] = ∂g_i/∂x_j`).
    ///
    /// - Parameters:
    ///   - g: the function `ℝⁿ → ℝᵐ`; its output length must not change between calls.
    ///   - x: the point (`n` entries).
    ///   - jacobian: `m` rows of `n` entries.
    /// - Returns: `m · n` entries (full mode) or one per trial (fast mode).
    /// - Throws: ``GradientCheckError`` for empty or mismatched sizes, non-finite values, invalid options.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func checkJacobian<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S], jacobian: [[S]]) throws
        -> CheckResult
    {
        try checkJacobian(of: g, at: x, jacobian: jacobian, kind: .jacobian)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func checkJacobian<S: CheckScalar>(
        of g: ([S]) throws -> [S], at x: [S], jacobian: [[S]], kind: CheckResult.Kind,
        termMagnitudes: [[S]]? = nil
    ) throws -> CheckResult {
        try validate()
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        for (i, row) in jacobian.enumerated() where row.count != x.count {
            throw GradientCheckError.sizeMismatch(
                what: kind == .gradient ? "gradient" : "Jacobian row \(i)", expected: x.count, actual: row.count)
        }
        for row in jacobian { try requireFinite(row, kind == .gradient ? "gradient" : "Jacobian") }
        try requireFinite(x, "input x")
        if let s = stepScales, s.count != x.count {
            throw GradientCheckError.sizeMismatch(what: "stepScales", expected: x.count, actual: s.count)
        }
        let g0 = try call("g(x)") { try g(x) }.map(Double.init)
        guard !g0.isEmpty else { throw GradientCheckError.emptyInput(what: "output g(x)") }
        guard g0.count == jacobian.count else {
            throw GradientCheckError.sizeMismatch(
                what: "Jacobian rows (outputs of g)", expected: g0.count, actual: jacobian.count)
        }
        let u = S.unitRoundoff
        let res = resolution(u)
        if useFast(x.count) {
            let jd = jacobian.map { $0.map(Double.init) }
            return try withoutActuallyEscaping(g) { g in
                try projected(
                    g, x: x, g0: g0, kind: kind,
                    analytic: { uu, v in
                        var terms: [Double] = []
                        terms.reserveCapacity(x.count)
                        for j in x.indices where v[j] != 0 {
                            var s = 0.0
                            for i in jd.indices { s += uu[i] * jd[i][j] }
                            terms.append(s * v[j])
                        }
                        return terms
                    },
                    located: { j in
                        // The located input entry, judged as a full column.
                        let e = try column(g, x: x, g0: g0, j: j)
                        return try g0.indices.map { i in
                            try decide(
                                kind == .gradient ? [j] : [i, j], analytic: jd[i][j], estimate: e, component: i,
                                terms: termMagnitudes.map { abs(Double($0[i][j])) } ?? 0, x: x, g0: g0, g: g,
                                coordinate: j)
                        }
                    })
            }
        }
        let threads = min(concurrentColumns, x.count)
        // Columns lo..<hi: their entries (column by column) and the evaluations spent.
        func columns(_ lo: Int, _ hi: Int) throws -> (entries: [EntryResult], evaluations: Int) {
            // Private copies (new buffers, not shared references) on each thread: the reference
            // counts of shared arrays, touched by every evaluation, would otherwise be contended.
            let x = threads > 1 ? x.map { $0 } : x
            let g0 = threads > 1 ? g0.map { $0 } : g0
            let jacobian = threads > 1 ? jacobian.map { $0.map { $0 } } : jacobian
            var entries: [EntryResult] = []
            // One entry per (output, column): reserved once, not regrown (a 256 × 256 check holds 65,536;
            // regrowing copied them about twice over and faulted in fresh pages each time).
            entries.reserveCapacity((hi - lo) * jacobian.count)
            var evals = 0
            for j in lo..<hi {
                if quickAccept && estimator.crossCheck {
                    let q = try quickColumn(
                        g, x: x, g0: g0, j: j, jacobian: jacobian, kind: kind, terms: termMagnitudes)
                    evals += q.evaluations
                    if let accepted = q.entries {
                        entries += accepted
                        continue
                    }
                }
                let e = try column(g, x: x, g0: g0, j: j)
                evals += e.evaluations
                let scaleJ = coordinateScale(x, j).scale
                for i in jacobian.indices {
                    let idx = kind == .gradient ? [j] : [i, j]
                    let terms = termMagnitudes.map { abs(Double($0[i][j])) } ?? 0
                    let r = try decide(
                        idx, analytic: Double(jacobian[i][j]), estimate: e, component: i, terms: terms,
                        x: x, g0: g0, g: g, coordinate: j, scaleJ: scaleJ, evaluations: &evals)
                    entries.append(r)
                }
            }
            return (entries, evals)
        }
        var entries: [EntryResult] = []
        var evals = 1
        if threads <= 1 {
            let r = try columns(0, x.count)
            entries = r.entries
            evals += r.evaluations
        } else {
            // Contiguous blocks of columns, one per thread, joined in column order.
            var slots = [Result<(entries: [EntryResult], evaluations: Int), any Error>?](
                repeating: nil, count: threads)
            let n = x.count
            slots.withUnsafeMutableBufferPointer { out in
                withoutActuallyEscaping(columns) { columns in
                    let shared = ConcurrentSlots(slots: out.baseAddress!) { t in
                        Result { try columns(n * t / threads, n * (t + 1) / threads) }
                    }
                    DispatchQueue.concurrentPerform(iterations: threads) { t in shared.slots[t] = shared.work(t) }
                }
            }
            entries.reserveCapacity(x.count * jacobian.count)
            for slot in slots {
                let r = try slot!.get()
                entries += r.entries
                evals += r.evaluations
            }
        }
        return CheckResult(
            kind: kind, mode: .full, precision: "\(S.self)", entries: entries, evaluations: evals, seed: seed,
            resolution: res, point: x.prefix(6).map(Double.init), inputCount: x.count)
    }

    // MARK: Products

    /// Checks a reverse-mode product `vjp(u) = Jᵀu`.
    /// Full mode compares `Jᵀu` for `u = e_i` (every output) with the numerical Jacobian;
    /// fast mode compares `⟨vjp(u), v⟩` with `d/dt ⟨u, g(x + t v)⟩` for random `u`, `v`.
    ///
    /// - Returns: per entry (full) or per trial, plus the located input entry of a failed trial (fast).
    /// - Throws: ``GradientCheckError`` for empty or mismatched sizes, non-finite values, invalid options.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func checkVJP<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S], vjp: ([S]) throws -> [S]) throws
        -> CheckResult
    {
        let g0 = try outputAtX(g, x)
        let m = g0.count
        if useFast(x.count) {
            var cache: (u: [Double], a: [Double])?
            return try projected(
                g, x: x, g0: g0, kind: .vectorJacobianProduct,
                analytic: { uu, v in
                    let a: [Double]
                    if let c = cache, c.u == uu {
                        a = c.a
                    } else {
                        let r = try call("vjp(u)") { try vjp(uu.map { S($0) }) }
                        guard r.count == x.count else {
                            throw GradientCheckError.sizeMismatch(what: "vjp(u)", expected: x.count, actual: r.count)
                        }
                        a = r.map(Double.init)
                        cache = (uu, a)
                    }
                    return x.indices.compactMap { v[$0] != 0 ? a[$0] * v[$0] : nil }
                }, located: nil)
        }
        let rows = try (0..<m).map { i -> [S] in
            var uu = [S](repeating: 0, count: m)
            uu[i] = 1
            let r = try call("vjp(e_\(i))") { try vjp(uu) }
            guard r.count == x.count else {
                throw GradientCheckError.sizeMismatch(what: "vjp(e_\(i))", expected: x.count, actual: r.count)
            }
            return r
        }
        var r = try checkJacobian(of: g, at: x, jacobian: rows, kind: .vectorJacobianProduct)
        r.evaluations += m
        return r
    }

    /// Checks a forward-mode product `jvp(v) = J v`.
    ///
    /// - Returns: per entry (full) or per trial, plus the located input entry of a failed trial (fast).
    /// - Throws: ``GradientCheckError`` for empty or mismatched sizes, non-finite values, invalid options.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func checkJVP<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S], jvp: ([S]) throws -> [S]) throws
        -> CheckResult
    {
        let g0 = try outputAtX(g, x)
        let m = g0.count
        if useFast(x.count) {
            return try projected(
                g, x: x, g0: g0, kind: .jacobianVectorProduct,
                analytic: { uu, v in
                    let a = try call("jvp(v)") { try jvp(v.map { S($0) }) }
                    guard a.count == m else {
                        throw GradientCheckError.sizeMismatch(what: "jvp(v)", expected: m, actual: a.count)
                    }
                    return zip(a, uu).map { Double($0) * $1 }
                }, located: nil)
        }
        var cols: [[S]] = []
        for j in x.indices {
            var v = [S](repeating: 0, count: x.count)
            v[j] = 1
            let c = try call("jvp(e_\(j))") { try jvp(v) }
            guard c.count == m else {
                throw GradientCheckError.sizeMismatch(what: "jvp(e_\(j))", expected: m, actual: c.count)
            }
            cols.append(c)
        }
        let rows = (0..<m).map { i in x.indices.map { cols[$0][i] } }
        var r = try checkJacobian(of: g, at: x, jacobian: rows, kind: .jacobianVectorProduct)
        r.evaluations += x.count
        return r
    }

    /// The dot-product (adjoint) test `⟨u, J v⟩ = ⟨Jᵀu, v⟩` between a forward and a reverse
    /// product, for `trials` random pairs; no finite differences. The allowance is
    /// `roundingUnits · u · (n + m) · (Σ|u_i (Jv)_i| + Σ|(Jᵀu)_j v_j|)`: each product entry is a
    /// length-`n` or `m` sum whose rounding is `γ_n` of its absolute terms. A trial whose
    /// allowance exceeds `resolution` of the compared value (heavy cancellation) is inconclusive.
    ///
    /// - Throws: ``GradientCheckError`` for zero sizes, `trials < 1`, mismatched or non-finite products.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func adjointTest<S: CheckScalar>(
        inputs n: Int, outputs m: Int, trials: Int = 4,
        jvp: ([S]) throws -> [S], vjp: ([S]) throws -> [S]
    ) throws -> CheckResult {
        try validate()
        guard n > 0 else { throw GradientCheckError.emptyInput(what: "inputs") }
        guard m > 0 else { throw GradientCheckError.emptyInput(what: "outputs") }
        guard (1...100_000).contains(trials) else {
            throw GradientCheckError.invalidOption(name: "trials", requirement: "must be in 1...100000, got \(trials)")
        }
        // The random directions are allocated: bounded like every other size (2^24 entries).
        guard n <= 1 << 24, m <= 1 << 24 else {
            throw GradientCheckError.invalidOption(name: "inputs/outputs", requirement: "must be ≤ 2^24")
        }
        var rng = SeededGenerator(seed: seed)
        var entries: [EntryResult] = []
        let u = S.unitRoundoff
        for k in 0..<trials {
            let uu = (0..<m).map { _ in S(rng.normal()) }
            let v = (0..<n).map { _ in S(rng.normal()) }
            let jv = try call("jvp(v)") { try jvp(v) }
            let jtu = try call("vjp(u)") { try vjp(uu) }
            guard jv.count == m else {
                throw GradientCheckError.sizeMismatch(what: "jvp(v)", expected: m, actual: jv.count)
            }
            guard jtu.count == n else {
                throw GradientCheckError.sizeMismatch(what: "vjp(u)", expected: n, actual: jtu.count)
            }
            let lhs = zip(uu, jv).map { Double($0) * Double($1) }
            let rhs = zip(jtu, v).map { Double($0) * Double($1) }
            let scale = lhs.map(abs).reduce(0, +) + rhs.map(abs).reduce(0, +)
            let a = lhs.reduce(0, +)
            let b = rhs.reduce(0, +)
            let allowed = roundingUnits * u * Double(n + m) * scale
            entries.append(
                judge(
                    [k], analytic: a, numerical: b, allowed: allowed, resolution: resolution(u), regimeFound: true,
                    failure: nil, floor: scale))
        }
        return CheckResult(
            kind: .adjoint, mode: .fast, precision: "\(S.self)", entries: entries, evaluations: 2 * trials,
            seed: seed, resolution: resolution(u))
    }

    /// Checks a Hessian–vector product against `d/dt ∇f(x + t v)`, differentiating the
    /// caller's `gradient` numerically, for `trials` random directions `v`.
    ///
    /// - Throws: ``GradientCheckError`` for empty input, `trials < 1`, mismatched sizes, non-finite values.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public func checkHVP<S: CheckScalar>(
        gradient: ([S]) throws -> [S], at x: [S], hvp: ([S]) throws -> [S], trials: Int = 2
    ) throws -> CheckResult {
        try validate()
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        guard (1...100_000).contains(trials) else {
            throw GradientCheckError.invalidOption(name: "trials", requirement: "must be in 1...100000, got \(trials)")
        }
        try requireFinite(x, "input x")
        let g0 = try call("gradient(x)") { try gradient(x) }.map(Double.init)
        guard g0.count == x.count else {
            throw GradientCheckError.sizeMismatch(what: "gradient(x)", expected: x.count, actual: g0.count)
        }
        var rng = SeededGenerator(seed: seed)
        var entries: [EntryResult] = []
        var evals = 1
        let u = S.unitRoundoff
        for k in 0..<trials {
            let v = (0..<x.count).map { _ in rng.normal() }
            let hv = try call("hvp(v)") { try hvp(v.map { S($0) }) }.map(Double.init)
            guard hv.count == x.count else {
                throw GradientCheckError.sizeMismatch(what: "hvp(v)", expected: x.count, actual: hv.count)
            }
            // v rounded to S, so the analytic and numerical sides use the same direction.
            let vs = v.map { Double(S($0)) }
            let e = try estimator.sample(
                gradient, at: x, g0: g0, coordinate: nil, direction: vs,
                scale: directionScale(x, vs), maxStep: maxStep)
            evals += e.evaluations
            let s = directionScale(x, vs)
            for i in x.indices {
                let nat = max(abs(g0[i]) / s, abs(e.value[i]))
                entries.append(
                    judge(
                        [k, i], analytic: hv[i], numerical: e.value[i], error: e.error[i], terms: 0, u: u,
                        regimeFound: e.regimeFound, failure: e.failure, step: e.step, natural: nat))
            }
        }
        return CheckResult(
            kind: .hessianVectorProduct, mode: .fast, precision: "\(S.self)", entries: entries,
            evaluations: evals, seed: seed, resolution: resolution(u), point: x.prefix(6).map(Double.init),
            inputCount: x.count)
    }

    // MARK: Pieces

    /// Validates the options and `x`, and returns `g(x)` (non-empty, finite) in Double.
    func outputAtX<S: CheckScalar>(_ g: ([S]) throws -> [S], _ x: [S]) throws -> [Double] {
        try validate()
        guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
        try requireFinite(x, "input x")
        let g0 = try call("g(x)") { try g(x) }.map(Double.init)
        guard !g0.isEmpty else { throw GradientCheckError.emptyInput(what: "output g(x)") }
        return g0
    }

    func useFast(_ n: Int) -> Bool {
        switch size {
        case .full: return false
        case .fast: return true
        case .automatic(let t): return n > t
        }
    }

    var trials: Int { if case .fast(let t) = size { return t } else { return 4 } }

    /// The first-step scale along coordinate `j`: the entry's magnitude, but at least the mean
    /// magnitude of the input (an entry near 0 among entries of size s still varies the function
    /// on the scale s), and 1 only when the whole input is 0; `|x_j|` is the alternative.
    func coordinateScale<S: CheckScalar>(_ x: [S], _ j: Int) -> (scale: Double, alternative: Double?) {
        if let s = stepScales?[j] { return (s, nil) }
        if let s = stepScale { return (s, nil) }
        var sum = 0.0
        for v in x { sum += abs(Double(v)) / Double(x.count) }
        let xj = abs(Double(x[j]))
        let typical = max(xj, sum)
        return (typical > 0 ? typical : 1, xj > 0 && xj < typical ? xj : nil)
    }

    func directionScale<S: CheckScalar>(_ x: [S], _ d: [Double]) -> Double {
        let dnorm = d.map(abs).max() ?? 1
        let typical = x.map { abs(Double($0)) }.max() ?? 0
        return (stepScale ?? (typical > 0 ? typical : 1)) / max(dnorm, .leastNormalMagnitude)
    }

    /// One column `d/dt g(x + t e_j)` with the domain handled.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    /// One tableau, no cross-check (see ``quickAccept``): the column's entries if every one passes
    /// with its detectable relative error at most `resolution / 16`, else `nil` (the caller then
    /// runs the full procedure); and the evaluations spent either way.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func quickColumn<S: CheckScalar>(
        _ g: ([S]) throws -> [S], x: [S], g0: [Double], j: Int, jacobian: [[S]], kind: CheckResult.Kind,
        terms termMagnitudes: [[S]]?
    ) throws -> (entries: [EntryResult]?, evaluations: Int) {
        var quick = self
        quick.estimator.crossCheck = false
        let e = try quick.column(g, x: x, g0: g0, j: j)
        let u = S.unitRoundoff
        let res = resolution(u)
        let s = coordinateScale(x, j).scale
        var out: [EntryResult] = []
        out.reserveCapacity(jacobian.count)
        for i in jacobian.indices {
            let r = judge(
                kind == .gradient ? [j] : [i, j], analytic: Double(jacobian[i][j]), numerical: e.value[i],
                error: e.error[i], terms: termMagnitudes.map { abs(Double($0[i][j])) } ?? 0, u: u,
                regimeFound: e.regimeFound, failure: e.failure, step: e.step,
                natural: natural(g0, i, scale: s, e.value[i]), floor: termMagnitudes.map { abs(Double($0[i][j])) } ?? 0,
                quantized: e.quantum > 0)
            guard r.verdict == .pass, r.detectableRelativeError <= res / 16 else { return (nil, e.evaluations) }
            out.append(r)
        }
        return (out, e.evaluations)
    }

    func column<S: CheckScalar>(_ g: ([S]) throws -> [S], x: [S], g0: [Double], j: Int, factor: Double = 1) throws
        -> DerivativeEstimator.Estimate
    {
        let s = coordinateScale(x, j)
        return try estimator.sample(
            g, at: x, g0: g0, coordinate: j, direction: nil, scale: factor * s.scale,
            alternativeScale: s.alternative.map { factor * $0 }, maxStep: maxStep)
    }

    /// The verdict of one entry from its numbers alone (see the type's documentation).
    ///
    /// `natural` is the entry's natural derivative scale, `max(|g_i(x)| / scale_j, |numerical|)`:
    /// a band wider than that means the numerical derivative is not resolved even to the scale on
    /// which the function itself varies (an accidental "asymptotic regime" in noise, or a
    /// function varying below the resolution of `x`), so nothing is decided. `floor` is a
    /// magnitude the resolution is measured against besides the entry's own (a dot product's
    /// terms); an entry that is exactly 0 on both sides is measured against `natural`.
    func judge(
        _ index: [Int], analytic a: Double, numerical n: Double, error: Double, terms: Double, u: Double,
        regimeFound: Bool, failure: InconclusiveReason?, step: Double? = nil, natural: Double,
        floor: Double = 0, quantized: Bool = false
    ) -> EntryResult {
        let magnitude = max(abs(a), abs(n), terms)
        let allowed = safety * error + roundingUnits * u * magnitude
        var failure = failure
        if failure == nil, regimeFound, !quantized, natural > 0, safety * error > natural { failure = .notSmooth }
        return judge(
            index, analytic: a, numerical: n, allowed: allowed, resolution: resolution(u), regimeFound: regimeFound,
            failure: failure, error: error, step: step, floor: floor,
            zeroReference: max(natural, zeroFloor(u)))
    }

    func judge(
        _ index: [Int], analytic a: Double, numerical n: Double, allowed: Double, resolution res: Double,
        regimeFound: Bool, failure: InconclusiveReason?, error: Double = 0, step: Double? = nil,
        floor: Double = 0, zeroReference: Double = 0
    ) -> EntryResult {
        let d = abs(a - n)
        // Exact zeros on both sides (a structural zero of a Jacobian) are measured against the
        // entry's natural scale: relative to themselves they would never be decided.
        let ref = max(abs(a), abs(n), floor) > 0 ? max(abs(a), abs(n), floor) : zeroReference
        let detectable = allowed == 0 ? 0 : (ref > 0 ? allowed / ref : .infinity)
        let (verdict, reason) = entryVerdict(
            failure: failure, regimeFound: regimeFound, allowed: allowed, difference: d, detectable: detectable,
            resolution: res)
        return EntryResult(
            index: index, analytic: a, numerical: n, errorEstimate: error, allowed: allowed, absoluteError: d,
            relativeError: d / max(ref, .leastNonzeroMagnitude), detectableRelativeError: detectable,
            verdict: verdict, reason: reason, step: step)
    }

    /// Below this magnitude a derivative is at the edge of what the precision with unit roundoff
    /// `u` represents (`leastNormal / u`): a function identically 0 near `x` has a band of that order.
    func zeroFloor(_ u: Double) -> Double {
        u < 1e-10 ? Double.leastNormalMagnitude / u : Double(Float.leastNormalMagnitude) / u
    }

    /// `max(|g_i(x)| / scale_j, |numerical|)`, the natural derivative scale of an entry (see `judge`).
    func natural(_ g0: [Double], _ i: Int, scale: Double, _ n: Double) -> Double {
        max(abs(g0[i]) / scale, abs(n))
    }

    /// Judges entry `component` of the column estimate `e`, then gathers more evidence where the
    /// first verdict is not a pass: a second estimate from a 16× smaller step, one-sided
    /// derivatives for a kink, and the range of the input.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func decide<S: CheckScalar>(
        _ idx: [Int], analytic a: Double, estimate e: DerivativeEstimator.Estimate, component i: Int,
        terms: Double, x: [S], g0: [Double], g: ([S]) throws -> [S], coordinate j: Int
    ) throws -> EntryResult {
        var evals = 0
        return try decide(
            idx, analytic: a, estimate: e, component: i, terms: terms, x: x, g0: g0, g: g, coordinate: j,
            evaluations: &evals)
    }

    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func decide<S: CheckScalar>(
        _ idx: [Int], analytic a: Double, estimate e: DerivativeEstimator.Estimate, component i: Int,
        terms: Double, x: [S], g0: [Double], g: ([S]) throws -> [S], coordinate j: Int,
        scaleJ: Double? = nil, evaluations: inout Int
    ) throws -> EntryResult {
        let u = S.unitRoundoff
        let scaleJ = scaleJ ?? coordinateScale(x, j).scale
        let nat1 = natural(g0, i, scale: scaleJ, e.value[i])
        var r = judge(
            idx, analytic: a, numerical: e.value[i], error: e.error[i], terms: terms, u: u,
            regimeFound: e.regimeFound, failure: e.failure, step: e.step, natural: nat1, floor: terms,
            quantized: e.quantum > 0)
        if r.verdict == .pass { return r }
        let needsSecond = r.verdict == .mismatch || r.reason == .errorBandTooWide || r.reason == .notSmooth
        // A mismatch must also show in an estimate from a 4× larger first step (less noise, more
        // truncation): an error bound that fell short of the true error at one scale (seen where
        // a function's internal rounding is invisible to the noise model) rarely does at both.
        func confirmedAtLargerStep() throws -> Bool {
            let big = try column(g, x: x, g0: g0, j: j, factor: 4)
            evaluations += big.evaluations
            return judge(
                idx, analytic: a, numerical: big.value[i], error: big.error[i], terms: terms, u: u,
                regimeFound: big.regimeFound, failure: big.failure, step: big.step,
                natural: natural(g0, i, scale: scaleJ, big.value[i]), floor: terms,
                quantized: big.quantum > 0
            ).verdict == .mismatch
        }
        if secondOpinion && needsSecond {
            let alt = try column(g, x: x, g0: g0, j: j, factor: 1.0 / 16)
            evaluations += alt.evaluations
            let nat2 = natural(g0, i, scale: scaleJ, alt.value[i])
            let r2 = judge(
                idx, analytic: a, numerical: alt.value[i], error: alt.error[i], terms: terms, u: u,
                regimeFound: alt.regimeFound, failure: alt.failure, step: alt.step, natural: nat2,
                floor: terms, quantized: alt.quantum > 0)
            // The two numerical estimates are consistent when their difference is within the sum
            // of their own error bounds (if both bounds hold, it must be): otherwise one bound
            // failed, and the first estimate's band is no evidence for a mismatch.
            let agree =
                abs(e.value[i] - alt.value[i]) <= e.error[i] + alt.error[i] + 4 * u
                * max(abs(e.value[i]), abs(alt.value[i]))
            if r.verdict == .mismatch {
                // An estimate that contradicts it beyond both bounds makes it undecided.
                if r2.verdict != .mismatch && r2.reason != .notSmooth && r2.reason != .undefinedNearby && !agree {
                    r.verdict = .inconclusive
                    r.reason = .estimatesDisagree
                } else if r2.verdict != .mismatch {
                    // Not confirmed by the finer estimate (its band too wide to say).
                    if try !confirmedAtLargerStep() {
                        r.verdict = .inconclusive
                        r.reason = .estimatesDisagree
                    }
                }
            } else if r2.verdict != .inconclusive && (agree || r.reason == .notSmooth)
                && r2.detectableRelativeError < r.detectableRelativeError
            {
                // A tighter band from the independent estimate decides the entry; a mismatch found
                // that way must be confirmed at a 4× larger step too (as any mismatch is).
                r = r2
                if r.verdict == .mismatch {
                    if try !confirmedAtLargerStep() {
                        r.verdict = .inconclusive
                        r.reason = .estimatesDisagree
                    }
                }
            }
        }
        if refineUndecided && r.verdict == .inconclusive
            && (r.reason == .errorBandTooWide || r.reason == .estimatesDisagree)
            && e.regimeFound && e.failure == nil && e.side == .central && e.firstStep > 0
        {
            r = try refined(
                r, analytic: a, tableau: e, component: i, terms: terms, x: x, g0: g0, g: g, coordinate: j,
                scaleJ: scaleJ, evaluations: &evaluations)
        }
        if r.verdict == .mismatch && detectKinks && e.side == .central {
            r = try kinkCheck(r, g: g, x: x, g0: g0, coordinate: j, output: i, evaluations: &evaluations)
        }
        if r.verdict == .mismatch && refineUndecided && e.side == .central {
            r = try coarseConsistency(
                r, tableau: e, component: i, x: x, g0: g0, g: g, coordinate: j, scaleJ: scaleJ,
                evaluations: &evaluations)
        }
        if r.verdict == .inconclusive && Self.rangeLimited(x[j], g0[i]) { r.reason = .outOfRange }
        return r
    }

    /// A mismatch must also be consistent with the function seen at its own scale: a least-squares
    /// fit over the first step the selector tried (`scale/4`, 2·64 samples, its noise measured from
    /// the residuals) may not contradict the tableau's estimate beyond both bands. A function that
    /// is smooth only below a quantum of its values (`cos x − 1 + x²/2` in Float: below the spacing
    /// of `cos x`'s rounding it is exactly `x²/2 + const`, whose derivative is `x`, not `x³/6`)
    /// has a fine-scale derivative that says nothing about its own; it is then `notSmooth`.
    func coarseConsistency<S: CheckScalar>(
        _ r: EntryResult, tableau e: DerivativeEstimator.Estimate, component i: Int, x: [S], g0: [Double],
        g: ([S]) throws -> [S], coordinate j: Int, scaleJ: Double, evaluations: inout Int
    ) throws -> EntryResult {
        var h = scaleJ / 4
        if let m = maxStep { h = min(h, m) }
        guard h > 2 * e.firstStep else { return r }
        let fit = try estimator.sample(
            g, at: x, g0: g0, coordinate: j, direction: nil, scale: h, maxStep: maxStep,
            leastSquares: LeastSquaresRequest(halfWidth: h, pairs: 64, shift: 1))
        evaluations += fit.evaluations
        guard fit.failure == nil, fit.error[i].isFinite else { return r }
        if abs(fit.value[i] - e.value[i]) > fit.error[i] + safety * e.error[i] {
            var out = r
            out.verdict = .inconclusive
            out.reason = .notSmooth
            return out
        }
        return r
    }

    /// The least-squares refinement of an undecided entry (see ``refineUndecided``).
    func refined<S: CheckScalar>(
        _ r: EntryResult, analytic a: Double, tableau e: DerivativeEstimator.Estimate, component i: Int,
        terms: Double, x: [S], g0: [Double], g: ([S]) throws -> [S], coordinate j: Int, scaleJ: Double,
        evaluations: inout Int
    ) throws -> EntryResult {
        let u = S.unitRoundoff
        // Windows grow only after the densest sampling of the smaller one left the entry undecided:
        // a wider window averages more noise away (the slope's standard error falls as 1/H) but
        // relies on the polynomial model over more of the function, so its fit must agree with the
        // last fit of the smaller window (the same entry seen at two scales) before it may decide.
        let schedule: [(window: Double, pairs: Int)] = [(1, 32), (1, 128), (1, 512), (4, 128), (4, 512), (16, 512)]
        var previous: (value: Double, error: Double)?
        var lastWindow = 1.0
        for (window, pairs) in schedule {
            var h = window * e.firstStep
            if let m = maxStep { h = min(h, m) }
            if window > lastWindow && h <= lastWindow * e.firstStep { break }
            // Two sample sets with different spacings (`pairs` and about 1.37× as many, the second
            // offset by half a spacing): independent noise, and a staircase sampled at one spacing
            // aliases differently at the other, so a bias from aliasing shows as disagreement.
            let fits = try [(pairs, 1.0), (pairs * 11 / 8, 0.5)].map { n, shift in
                try estimator.sample(
                    g, at: x, g0: g0, coordinate: j, direction: nil, scale: h, maxStep: maxStep,
                    leastSquares: LeastSquaresRequest(halfWidth: h, pairs: n, shift: shift))
            }
            evaluations += fits.reduce(0) { $0 + $1.evaluations }
            // An undefined point in the window, or no information in the samples: stop here.
            guard fits.allSatisfy({ $0.failure == nil && $0.error[i].isFinite }) else { return r }
            let (p, q) = (fits[0], fits[1])
            var agree =
                abs(p.value[i] - q.value[i]) <= p.error[i] + q.error[i]
                && abs(p.value[i] - e.value[i]) <= p.error[i] + safety * e.error[i]
            if window > lastWindow, let prev = previous {
                agree = agree && abs(p.value[i] - prev.value) <= p.error[i] + prev.error
            }
            guard agree else { return r }
            // The fits' bands are already bounds (six standard errors); `safety` scales them
            // relative to its default, so a caller asking for more caution gets it here too.
            let verdicts = fits.map { f -> EntryResult in
                let magnitude = max(abs(a), abs(f.value[i]), terms)
                var out = judge(
                    r.index, analytic: a, numerical: f.value[i],
                    allowed: safety / 4 * f.error[i] + roundingUnits * u * magnitude, resolution: resolution(u),
                    regimeFound: true, failure: nil, error: f.error[i], step: f.step, floor: terms,
                    zeroReference: max(natural(g0, i, scale: scaleJ, f.value[i]), zeroFloor(u)))
                if out.verdict == .inconclusive && Self.rangeLimited(x[j], g0[i]) { out.reason = .outOfRange }
                return out
            }
            if verdicts.allSatisfy({ $0.verdict == .pass }) {
                return verdicts.max { $0.detectableRelativeError < $1.detectableRelativeError }!
            }
            // A mismatch needs twice its band in both fits: their bands are estimates (measured
            // noise, measured truncation), and a shared truncation error moves both fits alike
            // (seen once in 4,000 right Float LayerNorm gradients: 1.1× the band, both fits).
            if verdicts.allSatisfy({ $0.verdict == .mismatch && $0.absoluteError > 2 * $0.allowed }) {
                return verdicts.max { $0.detectableRelativeError < $1.detectableRelativeError }!
            }
            // One fit decides the other way: not enough, and more samples will not reconcile them.
            if verdicts.contains(where: { $0.verdict == .mismatch && $0.absoluteError > 2 * $0.allowed })
                && verdicts.contains(where: { $0.verdict == .pass })
            {
                var out = r
                out.reason = .estimatesDisagree
                return out
            }
            if window > lastWindow { lastWindow = window }
            previous = (p.value[i], p.error[i])
        }
        return r
    }

    /// The input is subnormal or near overflow, or the output is in the subnormal range.
    static func rangeLimited<S: CheckScalar>(_ xj: S, _ y: Double) -> Bool {
        let ax = abs(xj)
        return (ax != 0 && ax < S.leastNormalMagnitude) || ax > S.greatestFiniteMagnitude / 1024
            || (y != 0 && abs(y) < Double(S.leastNormalMagnitude))
    }

    /// Re-examines a failing entry with one-sided derivatives: if they disagree beyond their
    /// error estimates, the point is a kink and the entry is inconclusive for that reason.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func kinkCheck<S: CheckScalar>(
        _ e: EntryResult, g: ([S]) throws -> [S], x: [S], g0: [Double], coordinate j: Int,
        output i: Int, evaluations: inout Int
    ) throws -> EntryResult {
        var left = estimator
        left.side = .backward
        var right = estimator
        right.side = .forward
        let s = coordinateScale(x, j)
        let l = try left.sample(
            g, at: x, g0: g0, coordinate: j, direction: nil, scale: s.scale, alternativeScale: s.alternative,
            maxStep: maxStep, domainRetries: 4)
        let r = try right.sample(
            g, at: x, g0: g0, coordinate: j, direction: nil, scale: s.scale, alternativeScale: s.alternative,
            maxStep: maxStep, domainRetries: 4)
        evaluations += l.evaluations + r.evaluations
        guard l.failure == nil, r.failure == nil, l.regimeFound, r.regimeFound else { return e }
        var out = e
        let gap = abs(l.value[i] - r.value[i])
        // A kink must be resolved beyond the one-sided error estimates *and* be large enough to
        // explain the mismatch (at a kink the central value is the mean of the two sides, so an
        // analytic one-sided value differs from it by half the jump); otherwise it is a mismatch.
        let scale = max(abs(l.value[i]), abs(r.value[i]))
        if gap > safety * (l.error[i] + r.error[i]) + roundingUnits * S.unitRoundoff * scale && gap >= e.absoluteError {
            out.verdict = .inconclusive
            out.reason = .kink
            out.left = l.value[i]
            out.right = r.value[i]
        }
        return out
    }

    /// Fast mode: `⟨u, J v⟩` numerically (one directional derivative of the scalar
    /// `⟨u, g(x + t v)⟩`) against the caller's product, for `trials` random pairs. `analytic(u, v)`
    /// returns the terms of the analytic dot product for a direction `v` (zero outside a subset
    /// while a failure is traced). A failed trial is bisected over the support of `v` down to
    /// one input entry, which `located` (where the analytic Jacobian is known) judges in full.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    func projected<S: CheckScalar>(
        _ g: ([S]) throws -> [S], x: [S], g0: [Double], kind: CheckResult.Kind,
        analytic: ([Double], [Double]) throws -> [Double],
        located: ((Int) throws -> [EntryResult])?
    ) throws -> CheckResult {
        var rng = SeededGenerator(seed: seed)
        var entries: [EntryResult] = []
        var evals = 1
        let u = S.unitRoundoff
        let m = g0.count
        for k in 0..<trials {
            let uu = (0..<m).map { _ in Double(S(rng.normal())) }
            let v = (0..<x.count).map { _ in Double(S(rng.normal())) }
            func check(_ d: [Double], index: [Int]) throws -> EntryResult {
                let e = try withoutActuallyEscaping(g) { g in
                    let ug: ([S]) throws -> [Double] = { p in
                        let y = try g(p)
                        guard y.count == m else {
                            throw GradientCheckError.sizeMismatch(what: "output of g", expected: m, actual: y.count)
                        }
                        // The projection in Double: the only rounding added is that of this dot product.
                        var s = 0.0
                        for i in 0..<m { s += uu[i] * Double(y[i]) }
                        return [s]
                    }
                    let p0 = g0.indices.reduce(0.0) { $0 + uu[$1] * g0[$1] }
                    return try estimator.sample(
                        ug, at: x, g0: [p0], coordinate: nil, direction: d,
                        scale: directionScale(x, d), maxStep: maxStep)
                }
                evals += e.evaluations
                let terms = try analytic(uu, d)
                let a = terms.reduce(0, +)
                let scale = terms.map(abs).reduce(0, +)
                let p0 = g0.indices.reduce(0.0) { $0 + abs(uu[$1] * g0[$1]) }
                let nat = max(scale, abs(e.value[0]), p0 / directionScale(x, d))
                // A dot product is judged against the magnitude of its terms (the floor): a
                // projection that cancels is as well resolved as its terms are.
                return judge(
                    index, analytic: a, numerical: e.value[0], error: e.error[0], terms: scale, u: u,
                    regimeFound: e.regimeFound, failure: e.failure, step: e.step, natural: nat, floor: scale)
            }
            let r = try check(v, index: [k])
            entries.append(r)
            guard r.verdict == .mismatch else { continue }
            // Trace the failure to one input entry by bisecting the direction's support.
            var support = Array(x.indices)
            var traced: EntryResult?
            while support.count > 1 {
                let halves = [Array(support[..<(support.count / 2)]), Array(support[(support.count / 2)...])]
                var next: [Int]?
                for h in halves {
                    var d = [Double](repeating: 0, count: x.count)
                    for j in h { d[j] = v[j] }
                    let rh = try check(d, index: h.count == 1 ? [k, h[0]] : [k])
                    if rh.verdict == .mismatch {
                        next = h
                        if h.count == 1 { traced = rh }
                        break
                    }
                }
                guard let n = next else { break }
                support = n
            }
            if support.count == 1 {
                if let loc = located {
                    entries.append(contentsOf: try loc(support[0]).filter { $0.verdict != .pass })
                } else if let t = traced {
                    entries.append(t)
                }
            }
        }
        return CheckResult(
            kind: kind, mode: .fast, precision: "\(S.self)", entries: entries, evaluations: evals, seed: seed,
            resolution: resolution(u), point: x.prefix(6).map(Double.init), inputCount: x.count)
    }
}

/// The one decision ladder of every verdict (entries and the Taylor test): a failure of the
/// estimate or an unseen Taylor regime decides nothing; a disagreement beyond the band is a
/// mismatch; agreement is a pass only if the band resolves `resolution` of the value.
func entryVerdict(
    failure: InconclusiveReason?, regimeFound: Bool, allowed: Double, difference d: Double,
    detectable: Double, resolution: Double
) -> (EntryVerdict, InconclusiveReason?) {
    if let f = failure { return (.inconclusive, f) }
    if !regimeFound { return (.inconclusive, .notSmooth) }
    if !allowed.isFinite || !d.isFinite { return (.inconclusive, .errorBandTooWide) }
    if d > allowed { return (.mismatch, nil) }
    // A pass promises that a relative error of `resolution` would have been a mismatch. The
    // numerical value is itself off by up to its band, so the band may use at most half of it.
    if detectable <= resolution / 2 { return (.pass, nil) }
    return (.inconclusive, .errorBandTooWide)
}

/// Throws unless `x` is non-empty and finite and `companion` (a gradient or direction named
/// `name`) has its length and is finite.
func requireValidPoint<S: CheckScalar>(_ x: [S], _ companion: [S], _ name: String) throws {
    guard !x.isEmpty else { throw GradientCheckError.emptyInput(what: "input x") }
    guard companion.count == x.count else {
        throw GradientCheckError.sizeMismatch(what: name, expected: x.count, actual: companion.count)
    }
    try requireFinite(x, "input x")
    try requireFinite(companion, name)
}

/// The options every verdict uses, shared by ``GradientChecker`` and ``TaylorTest``.
func validateVerdictOptions(safety: Double, roundingUnits: Double, resolution: Double?) throws {
    guard safety.isFinite, safety >= 1, safety <= 1000 else {
        throw GradientCheckError.invalidOption(
            name: "safety", requirement: "must be finite and in [1, 1000], got \(safety)")
    }
    guard roundingUnits.isFinite, roundingUnits >= 0, roundingUnits <= 1e12 else {
        throw GradientCheckError.invalidOption(
            name: "roundingUnits", requirement: "must be finite and in [0, 1e12], got \(roundingUnits)")
    }
    if let r = resolution, !(r > 0 && r < 1) {
        throw GradientCheckError.invalidOption(name: "resolution", requirement: "must be in (0, 1), got \(r)")
    }
}

func requireFinite<S: CheckScalar>(_ v: [S], _ what: String) throws {
    if let i = v.firstIndex(where: { !$0.isFinite }) {
        throw GradientCheckError.nonFiniteValue(point: "\(what) entry \(i)", value: "\(v[i])")
    }
}

/// Lets concurrent iterations each write their own slot (see ``GradientChecker/concurrentColumns``,
/// whose contract makes the captured function safe to call from several threads).
struct ConcurrentSlots<T>: @unchecked Sendable {
    let slots: UnsafeMutablePointer<T?>
    let work: (Int) -> T
}
