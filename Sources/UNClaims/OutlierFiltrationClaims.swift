import ExactArithmetic
import GradientCheck
import RealModule
import UnifiedNormalization

/// Claims K1–K4: the outlier-filtration stability bound (spec section 5).
public enum OutlierFiltrationClaims {
    // MARK: K1

    /// K1 at one window, decided exactly; then the runtime test checked against it.
    public static func kober(_ rw: RootWindow) throws -> ClaimOutcome {
        let x = try ExactWindow(rw)
        let m = x.m
        let mr = Rational(m)
        // Upper half: E − Π ≤ M·V  ⇔  Π ≥ L = E − M V  ⇔  L ≤ 0 or Π^M ≥ L^M.
        let l = x.e - mr * x.v
        let upperHolds = try l.sign <= 0 || x.piPowerM >= l.power(m)
        // Lower half: E − Π ≥ M/(M−1)·V  ⇔  Π ≤ U = E − M/(M−1) V  ⇔  U ≥ 0 and Π^M ≤ U^M.
        let u = try x.e - mr / Rational(m - 1) * x.v
        let lowerHolds = try u.sign >= 0 && x.piPowerM <= u.power(m)
        let pi = try x.piDouble()
        let ed = x.e.doubleValue
        var checks = [
            ClaimCheck(
                "upper half E−Π ≤ M·V (exact)", holds: upperHolds,
                margin: upperHolds ? max(0, (pi - l.doubleValue) / ed) : -1),
            ClaimCheck(
                "lower half E−Π ≥ M/(M−1)·V (exact)", holds: lowerHolds,
                margin: lowerHolds ? max(0, (u.doubleValue - pi) / ed) : -1),
        ]
        // Equality cases: M = 2, or all entries equal, make both halves equalities.
        let allEqual = Set(rw.roots).count == 1
        if m == 2 || allEqual {
            let eq = try x.piPowerM == l.power(m) && x.piPowerM == u.power(m)
            checks.append(ClaimCheck("equality (M = 2 or all equal)", holds: eq, margin: eq ? 0 : -1))
        }
        // The runtime same-window test must decide as exact arithmetic does: never fire.
        let d = try OutlierFilter.sameWindow(rw.window)
        checks.append(
            ClaimCheck(
                "rigorous float test does not fire", holds: !d.fires,
                margin: d.roundingBound > 0 ? d.margin / d.roundingBound : d.margin))
        // …and its rounding bound must bound the actual error of gap − threshold.
        let (plo, phi) = try x.piBracket()
        let exactLo = (x.e - phi - mr * x.v).doubleValue
        let exactHi = (x.e - plo - mr * x.v).doubleValue
        let computed = d.gap - d.threshold
        let err = computed < exactLo ? exactLo - computed : (computed > exactHi ? computed - exactHi : 0)
        checks.append(ClaimCheck("rounding bound covers the float error", margin: 1 - err / d.roundingBound))
        // The naive comparison (no bound) is what fails on near-equal windows: counted, not asserted.
        return ClaimOutcome(
            checks,
            notes: [
                "naive float comparison fired": d.gap > d.threshold ? 1 : 0,
                "windows with M = 2": m == 2 ? 1 : 0,
            ])
    }

    public static let k1 = Claim<RootWindow>(
        id: "K1", title: "Kober's inequality (the filtration bound)",
        statement:
            """
            For every window of M ≥ 2 positive statistics, the gap between arithmetic and geometric mean lies \
            between M/(M−1) and M times the variance of the square roots; both halves are equalities when M = 2 \
            or all entries are equal. Hence the paper's same-window test never fires in exact arithmetic.
            """,
        symbols: "M/(M−1)·V(Ω^{1/2}) ≤ E(Ω) − Π(Ω) ≤ M·V(Ω^{1/2})",
        proof: "proofs/outlier-filtration.md#k1",
        generate: { WindowShape.random(&$0) }, check: kober)

    // MARK: K2

    /// Input of K2: a history given by `t_i` with `h_i = t_i^{M−1}` (so `Π(h) = ∏ t_i` is exact),
    /// and a threshold as a multiple of the smallest possible gap.
    public struct HistoryCase: Sendable, CustomStringConvertible {
        public var t: [Double]
        /// τ = (1 + thresholdExcess) · min gap; negative excess: below the minimum (empty interval).
        public var thresholdExcess: Double
        public var m: Int { t.count + 1 }
        public var history: [Double] { t.map { Double.pow($0, m - 1) } }
        public var description: String { "t \(t) (history \(history)), threshold excess \(thresholdExcess)" }

        /// `t_i` with `52/(M−1) − 1` significant bits, so `t_i^{M−1}` is exact; `near`: all `t_i`
        /// within a few units of one another; threshold excess from {−0.5, 0.01, 0.5, 3, 100}.
        public static func build(m: Int, near: Bool, mantissas: [Int], exponent: Int, excessIndex: Int) -> HistoryCase {
            let m = max(2, min(5, m))
            let bits = 52 / (m - 1) - 1
            let top = 1 << (bits - 1)
            let t = (0..<(m - 1)).map { i -> Double in
                let raw = mantissas[i % mantissas.count]
                let mant = near ? top + (mantissas[0] % top) + raw % 5 - 2 : top + raw % top
                return Double(mant) * pow2(exponent - bits)
            }
            return HistoryCase(t: t, thresholdExcess: [-0.5, 0.01, 0.5, 3, 100][excessIndex % 5])
        }
    }

    static func gap(_ w: [Double]) throws -> Double { try OutlierFilter.gap(w) }

    public static func interval(_ c: HistoryCase) throws -> ClaimOutcome {
        let m = c.m
        let h = c.history
        let tr = c.t.map { Rational(exactly: $0)! }
        let hr = try tr.map { try $0.power(m - 1) }
        let xStar = tr.reduce(Rational.one, *)  // Π(h), exact
        // (a) gap(h ∪ {x*}) = (M−1)/M · gap(h), exactly: Π(h ∪ {x*}) = x*.
        let gapH = try Rational.mean(hr) - xStar
        let gapAt = try Rational.mean(hr + [xStar]) - xStar
        let identity = try gapAt == Rational(m - 1) / Rational(m) * gapH
        var checks = [
            ClaimCheck("minimum value (M−1)/M·gap(history) (exact)", holds: identity, margin: identity ? 1 : -1)
        ]
        // (b) minimum at x*: gap(x* r) − gap(x*) = x*((r−1)/M − (r^{1/M} − 1)) ≥ 0 (exact bracket).
        for r in try [Rational(1, 4), Rational(1, 2), Rational(2), Rational(1000)] {
            let root = try r.nthRootBracket(m).hi
            let diff = try (r - .one) / Rational(m) - (root - .one)
            checks.append(ClaimCheck("gap(x*·\(r)) ≥ gap(x*)", margin: diff.doubleValue))
        }
        // (c) the accepted interval for τ, by root finding, against the decision function.
        let xs = xStar.doubleValue
        let gmin = gapAt.doubleValue
        let tau = (1 + c.thresholdExcess) * gmin
        let window: (Double) -> [Double] = { h + [$0] }
        // Windows of finite positive statistics: the geometric mean cannot fail here.
        let phi: (Double) -> Double = { (try? gap(window($0))).map { $0 - tau } ?? .nan }
        let noise = 64 * Double(m) * Double.ulpOfOne * max(xs, h.max()!)
        if c.thresholdExcess < 0 {
            // Below the minimum: every newest statistic is rejected.
            let probes = [xs, xs * 0.5, xs * 2]
            let fires = try probes.allSatisfy { try OutlierFilter.previousWindow(window($0), threshold: tau).fires }
            let slack = (gmin - tau) / noise
            // Within the rounding noise of the minimum the decision may go either way.
            checks.append(
                ClaimCheck(
                    "empty interval when τ < min gap", holds: fires || slack < 1,
                    margin: fires ? slack : (slack < 1 ? 1 : -1)))
        } else if tau > noise {
            // Bisection in log x on each side of x*.
            func root(_ a: Double, _ b: Double) -> Double {
                var lo = Double.log(a)
                var hi = Double.log(b)
                let increasingAtHi = phi(b) > 0
                for _ in 0..<200 {
                    let mid = (lo + hi) / 2
                    if (phi(Double.exp(mid)) > 0) == increasingAtHi { hi = mid } else { lo = mid }
                }
                return Double.exp((lo + hi) / 2)
            }
            var a = xs
            var b = xs
            while phi(a) <= 0 && a > 1e-300 { a /= 2 }
            while phi(b) <= 0 && b < 1e300 { b *= 2 }
            // As x → 0 the gap tends to E(h)·(M−1)/M, which may stay below τ: then the interval
            // is unbounded below (every small statistic is accepted) and has no lower end point.
            var ends: [(Double, String)] = [(root(xs, b), "upper")]
            if phi(a) > 0 { ends.append((root(xs, a), "lower")) }
            for (x, name) in ends {
                let inside = name == "lower" ? x * (1 + 1e-6) : x * (1 - 1e-6)
                let outside = name == "lower" ? x * (1 - 1e-6) : x * (1 + 1e-6)
                // Only meaningful where φ leaves the rounding noise within that distance.
                guard abs(phi(inside)) > noise && abs(phi(outside)) > noise else { continue }
                let inOK = !(try OutlierFilter.previousWindow(window(inside), threshold: tau).fires)
                let outOK = try OutlierFilter.previousWindow(window(outside), threshold: tau).fires
                checks.append(
                    ClaimCheck(
                        "\(name) end point agrees with the decision", holds: inOK && outOK,
                        margin: inOK && outOK ? min(abs(phi(inside)), abs(phi(outside))) / noise : -1))
            }
        }
        // (d) the paper's same-window threshold accepts every newest statistic (Kober).
        let never = try (-6...6).allSatisfy { k in !(try OutlierFilter.sameWindow(window(xs * Double.pow(10, k))).fires)
        }
        checks.append(ClaimCheck("same-window test accepts x*·10^k, k = −6…6", holds: never, margin: never ? 1 : -1))
        return ClaimOutcome(checks)
    }

    public static let k2 = Claim<HistoryCase>(
        id: "K2", title: "The filter is a two-sided outlier test",
        statement:
            """
            With the history fixed, E − Π as a function of the newest statistic x is convex with its minimum at \
            the history's geometric mean x*, where it equals (M−1)/M times the history's own gap. For a threshold \
            τ the accepted x form an interval around x* (empty below that minimum), whose end points agree with \
            the decision function. Against the paper's same-window threshold every x is accepted.
            """,
        symbols:
            "argmin_x (E − Π)(h ∪ {x}) = Π(h),  min = (M−1)/M·(E(h) − Π(h));  {x : E − Π ≤ τ} = [x_lo, x_hi] ∋ Π(h)",
        proof: "proofs/outlier-filtration.md#k2",
        generate: { rng in
            let m = Int.random(in: 2...5, using: &rng)
            return HistoryCase.build(
                m: m, near: Bool.random(using: &rng),
                mantissas: (0..<m).map { _ in Int.random(in: 0..<(1 << 26), using: &rng) },
                exponent: Int.random(in: -8...8, using: &rng), excessIndex: Int.random(in: 0..<5, using: &rng))
        }, check: interval)

    // MARK: K3

    public struct InvarianceCase: Sendable, CustomStringConvertible {
        public var window: RootWindow
        /// A power-of-two exponent and a general factor for the scaling checks.
        public var scaleExponent: Int
        public var scale: Double
        public var permutation: [Int]
        public var outlier: Double
        public init(window: RootWindow, scaleExponent: Int, scale: Double, permutation: [Int], outlier: Double) {
            self.window = window
            self.scaleExponent = scaleExponent
            self.scale = scale
            self.permutation = permutation
            self.outlier = outlier
        }
        public var description: String {
            "\(window), scale 2^\(scaleExponent) and \(scale), permutation \(permutation), outlier ×\(outlier)"
        }
    }

    public static func invariance(_ c: InvarianceCase) throws -> ClaimOutcome {
        let x = try ExactWindow(c.window)
        let m = x.m
        var checks: [ClaimCheck] = []
        // Scaling by a positive c: E, V scale by c, Π^M by c^M (exact), so E − Π and M·V both
        // scale by c and the decision cannot change.
        let cr = Rational(exactly: c.scale)!
        let eS = try Rational.mean(x.w.map { $0 * cr })
        let piMS = x.w.map { $0 * cr }.reduce(Rational.one, *)
        let scaleOK = try eS == cr * x.e && piMS == cr.power(m) * x.piPowerM
        checks.append(ClaimCheck("E and Π^M scale by c and c^M (exact)", holds: scaleOK, margin: scaleOK ? 1 : -1))
        // V(√(c w)) = c V(√w): with c = 4^k the roots scale exactly by 2^k.
        let k = c.scaleExponent
        let scaledRoots = RootWindow(roots: c.window.roots.map { $0 * pow2(k) })
        let xs = try ExactWindow(scaledRoots)
        let four = Rational(exactly: pow2(2 * k))!
        let vOK = try xs.v == four * x.v && xs.e == four * x.e && xs.piPowerM == four.power(m) * x.piPowerM
        checks.append(ClaimCheck("V(√(4^k w)) = 4^k V(√w), E and Π alike (exact)", holds: vOK, margin: vOK ? 1 : -1))
        // Permutation: symmetric functions (exact).
        let pr = RootWindow(roots: c.permutation.map { c.window.roots[$0] })
        let xp = try ExactWindow(pr)
        let pOK = xp.e == x.e && xp.v == x.v && xp.piPowerM == x.piPowerM
        checks.append(ClaimCheck("E, V, Π invariant under permutation (exact)", holds: pOK, margin: pOK ? 1 : -1))
        // Float decision invariance: identical, unless within the rounding bound of the threshold.
        let d0 = try OutlierFilter.sameWindow(c.window.window)
        let d1 = try OutlierFilter.sameWindow(scaledRoots.window)
        let d2 = try OutlierFilter.sameWindow(pr.window)
        checks.append(
            ClaimCheck(
                "float decision invariant (scale, permutation)", holds: d0.fires == d1.fires && d0.fires == d2.fires,
                margin: d0.fires == d1.fires && d0.fires == d2.fires ? 1 : -1))
        // GM in [min, max] and ≤ AM (exact, via M-th powers).
        let wmin = x.w.min()!
        let wmax = x.w.max()!
        let inRange = try wmin.power(m) <= x.piPowerM && x.piPowerM <= wmax.power(m) && x.piPowerM <= x.e.power(m)
        checks.append(ClaimCheck("min ≤ Π ≤ max, Π ≤ E (exact)", holds: inRange, margin: inRange ? 1 : -1))
        // Float GM within [min, max] up to the K4 bound.
        let w = c.window.window
        let gm = try GeometricMeanWindow.geometricMean(w)
        let rel = geometricMeanBoundULPs(w) * Double.ulpOfOne
        let lo = w.min()! * (1 - rel)
        let hi =
            min(w.max()!, GeometricMeanWindow.arithmeticMean(w) * (1 + 2 * Double(m) * Double.ulpOfOne)) * (1 + rel)
        checks.append(
            ClaimCheck(
                "float GM in [min, min(max, AM)] up to the K4 bound", holds: gm >= lo && gm <= hi,
                margin: min(gm - lo, hi - gm) / (rel * gm)))
        // One outlier k times the rest: GM moves by k^{1/M}, AM by (M−1+k)/M (exact).
        let a = x.w[0]
        let kr = Rational(exactly: c.outlier)!
        let ow = Array(repeating: a, count: m - 1) + [a * kr]
        let gmPow = ow.reduce(Rational.one, *)
        let amO = try Rational.mean(ow)
        let oOK = try gmPow == a.power(m) * kr && amO == a * (Rational(m - 1) + kr) / Rational(m)
        checks.append(ClaimCheck("outlier ×k: Π^M = a^M k, E = a(M−1+k)/M (exact)", holds: oOK, margin: oOK ? 1 : -1))
        // …and the float GM of that window against a·k^{1/M}.
        let owf = Array(repeating: w[0], count: m - 1) + [w[0] * c.outlier]
        if owf.allSatisfy({ $0.isFinite && $0 > 0 }) {
            let (blo, bhi) = try gmPow.nthRootBracket(m)
            let g = try GeometricMeanWindow.geometricMean(owf)
            let errULP = max(0, max(blo.doubleValue - g, g - bhi.doubleValue)) / g.ulp
            let bound = geometricMeanBoundULPs(owf)
            checks.append(ClaimCheck("float GM of the outlier window within the K4 bound", margin: 1 - errULP / bound))
        }
        return ClaimOutcome(checks)
    }

    public static let k3 = Claim<InvarianceCase>(
        id: "K3", title: "Invariances and robustness of the smoothing",
        statement:
            """
            The filter decision is invariant under scaling all statistics by one positive factor and under \
            permuting the window; the smoothed variance lies in [min Ω, max Ω] and never exceeds the arithmetic \
            mean; one outlier k times the rest moves the geometric mean by k^{1/M} and the arithmetic mean by (M−1+k)/M.
            """,
        symbols:
            "d(cΩ) = d(Ω), d(σΩ) = d(Ω);  min Ω ≤ Π(Ω) ≤ min(max Ω, E(Ω));  Π(a,…,a,ka) = a k^{1/M},  E = a(M−1+k)/M",
        proof: "proofs/outlier-filtration.md#k3",
        generate: { rng in
            let w = WindowShape.random(&rng)
            var perm = Array(0..<w.m)
            perm.shuffle(using: &rng)
            let scale = Double(Int.random(in: 1...(1 << 20), using: &rng)) * pow2(Int.random(in: -30...30, using: &rng))
            let outlier = [1e-6, 0.01, 2, 10, 1e3, 1e8][Int.random(in: 0..<6, using: &rng)]
            return InvarianceCase(
                window: w, scaleExponent: Int.random(in: -50...50, using: &rng), scale: scale, permutation: perm,
                outlier: outlier)
        }, check: invariance)

    // MARK: K4

    /// The stated bound, in ulps of the result, on the log-domain geometric mean:
    /// `(M + 2)·min(max|ln w_i|, ln 2/2) + 5` (derivation in proofs/outlier-filtration.md#k4).
    public static func geometricMeanBoundULPs<S: BinaryFloatingPoint>(_ w: [S]) -> Double {
        let l = w.map { abs(Double.log(Double($0))) }.max() ?? 0
        return Double(w.count + 2) * min(l, Double.log(2) / 2) + 5
    }

    public struct ExponentCase: Sendable, CustomStringConvertible {
        public var window: [Double]
        public init(window: [Double]) { self.window = window }
        public var description: String { "window \(window)" }
    }

    public static func logDomain(_ c: ExponentCase) throws -> ClaimOutcome {
        let w = c.window
        let m = w.count
        let prod = w.map { Rational(exactly: $0)! }.reduce(Rational.one, *)
        let (lo, hi) = try prod.nthRootBracket(m)
        var checks: [ClaimCheck] = []
        var notes: [String: Double] = [:]
        let g = try GeometricMeanWindow.geometricMean(w)
        let exactD = lo.doubleValue
        if exactD.isNormal {
            let errULP = max(0, max(lo.doubleValue - g, g - hi.doubleValue)) / exactD.ulp
            let bound = geometricMeanBoundULPs(w)
            checks.append(ClaimCheck("Double GM within (M+2)·max|ln w|+3 ulps", margin: 1 - errULP / bound))
            let naive = GeometricMeanWindow.naiveGeometricMean(w)
            if !naive.isFinite || naive == 0 {
                notes["naive product overflowed or underflowed"] = 1
                checks.append(
                    ClaimCheck(
                        "log domain finite where the naive product is not", holds: g.isFinite && g > 0,
                        margin: g.isFinite && g > 0 ? 1 : -1))
            }
        }
        // Float, where the window is representable in Float.
        let wf = w.map { Float($0) }
        if wf.allSatisfy({ $0.isNormal }) {
            let pf = wf.map { Rational(exactly: $0)! }.reduce(Rational.one, *)
            let (flo, fhi) = try pf.nthRootBracket(m)
            let ef = Float(flo.doubleValue)
            if ef.isNormal {
                let gf = try GeometricMeanWindow.geometricMean(wf)
                let errULP = max(0, max(flo.doubleValue - Double(gf), Double(gf) - fhi.doubleValue)) / Double(ef.ulp)
                checks.append(
                    ClaimCheck(
                        "Float GM within (M+2)·min(max|ln w|, ln2/2)+5 ulps",
                        margin: 1 - errULP / geometricMeanBoundULPs(wf)))
                let nf = GeometricMeanWindow.naiveGeometricMean(wf)
                if !nf.isFinite || nf == 0 { notes["naive Float product overflowed or underflowed"] = 1 }
            }
        }
        return ClaimOutcome(checks, notes: notes)
    }

    public static let k4 = Claim<ExponentCase>(
        id: "K4", title: "The log-domain geometric mean is accurate and never overflows",
        statement:
            """
            exp(mean(log w)) is within (M+2)·max|ln w_i| + 3 ulps of the exact geometric mean across the whole \
            exponent range, and finite and nonzero where the naive product (∏w)^{1/M} overflows or underflows.
            """,
        symbols: "|fl(exp(Σ log w_i / M)) − Π(w)| ≤ ((M+2)·max|ln w_i| + 3)·ulp(Π(w))",
        proof: "proofs/outlier-filtration.md#k4",
        generate: { rng in
            let m = Int.random(in: 1...8, using: &rng)
            let center = Int.random(in: -1000...1000, using: &rng)
            let spread = [0, 2, 30, 300][Int.random(in: 0..<4, using: &rng)]
            return ExponentCase(
                window: (0..<m).map { _ in
                    Double.random(in: 1..<2, using: &rng)
                        * pow2(max(-1020, min(1020, center + Int.random(in: -spread...spread, using: &rng))))
                })
        }, check: logDomain)
}
