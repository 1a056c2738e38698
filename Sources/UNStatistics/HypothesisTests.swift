import CGSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome of a hypothesis test.
public struct TestResult: Sendable, Codable, Equatable {
    public var statistic: Double
    /// Two-sided unless the test says otherwise.
    public var pValue: Double
    public var degreesOfFreedom: Double?
}

/// Hypothesis tests with their statistic and p-value. Inputs that make a test meaningless
/// (fewer than two samples, zero variance, NaN) throw `StatisticsError`.
public enum HypothesisTests {
    static func meanVar(_ x: [Double]) throws -> (Double, Double) {
        let d = try Description(x)
        return (d.mean, d.variance)
    }

    /// Two-sided p-value of a statistic with lower/upper tails computed directly.
    static func twoSided(_ lower: Double, _ upper: Double) -> Double { min(1, 2 * min(lower, upper)) }

    /// One-sample t-test of `H0: mean = mu`. Computed on the data scaled by a power of two (the
    /// statistic is scale-free), so it is right wherever the data are representable.
    ///
    /// - Throws: `StatisticsError` for fewer than two samples, a non-finite value or `mu`, or zero variance.
    public static func oneSampleT(_ x: [Double], mu: Double = 0) throws -> TestResult {
        guard mu.isFinite else { throw StatisticsError.invalidParameter(name: "mu", requirement: "must be finite") }
        try requireSamples(x, "sample")
        // Scaled by the data alone: a μ far outside them must not underflow their variance.
        // (x̄ − μ)·2^−e may overflow to ±∞ only where t itself is beyond the range.
        let d = try ScaledMoments(x)
        guard d.variance > 0 else { throw StatisticsError.zeroVariance(what: "sample") }
        let n = Double(x.count)
        let t = (d.mean - scalbn(mu, Int32(-d.exponent))) / (d.variance / n).squareRoot()
        let df = n - 1
        return TestResult(statistic: t, pValue: try Distributions.studentTTwoSided(t, nu: df), degreesOfFreedom: df)
    }

    /// Two-sample t-test of `H0: equal means`; pooled variance, or Welch's when `equalVariances`
    /// is false. One sample may have zero variance (as in SciPy); only a zero pooled (or total,
    /// for Welch) variance makes the test meaningless. Scale-free, computed on scaled data.
    ///
    /// - Throws: `StatisticsError` for fewer than two samples in either, a non-finite value, or a
    ///   zero pooled/total variance.
    public static func twoSampleT(_ x: [Double], _ y: [Double], equalVariances: Bool) throws -> TestResult {
        try requireSamples(x, "sample")
        try requireSamples(y, "sample")
        // Each sample at its own scale, so one far larger than the other does not underflow the
        // other's variance (which may be the only one). The difference of means is formed at the
        // larger means' scale, the variance term at the larger variances' scale, and t brought back
        // with one exact scaling (±∞ only where t is beyond the range).
        let dx = try ScaledMoments(x)
        let dy = try ScaledMoments(y)
        let n1 = Double(x.count)
        let n2 = Double(y.count)
        let eM = max(dx.exponent, dy.exponent)
        let diff = scalbn(dx.mean, Int32(dx.exponent - eM)) - scalbn(dy.mean, Int32(dy.exponent - eM))
        let withVariance = [dx, dy].filter { $0.variance > 0 }.map(\.exponent)
        let eV = withVariance.max() ?? 0
        let v1 = scalbn(dx.variance, Int32(2 * (dx.exponent - eV)))
        let v2 = scalbn(dy.variance, Int32(2 * (dy.exponent - eV)))
        let t: Double
        let df: Double
        if equalVariances {
            df = n1 + n2 - 2
            let sp = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
            guard sp > 0 else { throw StatisticsError.zeroVariance(what: "pooled sample") }
            t = scalbn(diff / (sp * (1 / n1 + 1 / n2)).squareRoot(), Int32(eM - eV))
        } else {
            let a = v1 / n1
            let b = v2 / n2
            guard a + b > 0 else { throw StatisticsError.zeroVariance(what: "both samples") }
            t = scalbn(diff / (a + b).squareRoot(), Int32(eM - eV))
            // Welch–Satterthwaite, scale-free: formed on a, b divided by the larger (no a² underflow).
            let big = max(a, b)
            let (ra, rb) = (a / big, b / big)
            df = (ra + rb) * (ra + rb) / (ra * ra / (n1 - 1) + rb * rb / (n2 - 1))
        }
        return TestResult(statistic: t, pValue: try Distributions.studentTTwoSided(t, nu: df), degreesOfFreedom: df)
    }

    /// Welch's one-sided test of `H0: mean(x) ≤ mean(y)` against `mean(x) > mean(y)`.
    /// - Returns: Welch's t, the one-sided p-value `P(T > t)`, and its degrees of freedom.
    /// - Throws: as ``twoSampleT(_:_:equalVariances:)``.
    public static func welchGreater(_ x: [Double], _ y: [Double]) throws -> TestResult {
        let r = try twoSampleT(x, y, equalVariances: false)
        return TestResult(
            statistic: r.statistic, pValue: try Distributions.studentTQ(r.statistic, nu: r.degreesOfFreedom!),
            degreesOfFreedom: r.degreesOfFreedom)
    }

    /// Schuirmann's two one-sided tests (TOST) of equivalence with Welch's statistic:
    /// `H0: |mean(x) − mean(y)| ≥ margin` against `|mean(x) − mean(y)| < margin`. The p-value is the
    /// larger of the two one-sided p-values (`x + margin` against `y`, and `x − margin`); equivalence is
    /// shown at level α when it is below α. Source: D. J. Schuirmann, J. Pharmacokinet. Biopharm.
    /// 15 (1987) 657–680, doi:10.1007/BF01068419.
    /// - Returns: the statistic is the smaller of the two one-sided t's in magnitude.
    /// - Throws: `StatisticsError` for a margin that is not finite and > 0; otherwise as
    ///   ``twoSampleT(_:_:equalVariances:)``.
    public static func equivalence(_ x: [Double], _ y: [Double], margin: Double) throws -> TestResult {
        guard margin.isFinite, margin > 0 else {
            throw StatisticsError.invalidParameter(name: "margin", requirement: "must be finite and > 0, got \(margin)")
        }
        let lower = try welchGreater(x.map { $0 + margin }, y)
        let upper = try welchGreater(y, x.map { $0 - margin })
        let worse = lower.pValue >= upper.pValue ? lower : upper
        return TestResult(statistic: worse.statistic, pValue: worse.pValue, degreesOfFreedom: worse.degreesOfFreedom)
    }

    /// Chi-square test of `H0: variance = sigma2` (two-sided): `(n−1)s²/σ₀² ~ χ²_{n−1}`. The
    /// statistic is formed from scaled moments and brought back exactly; when it is not
    /// representable it is `+∞` (or 0) and the p-value is its limit, 0.
    ///
    /// - Throws: `StatisticsError` for a `sigma2` that is not finite and > 0, fewer than two
    ///   samples, a non-finite value, or zero variance.
    public static func chiSquareVariance(_ x: [Double], sigma2: Double) throws -> TestResult {
        guard sigma2 > 0, sigma2.isFinite else {
            throw StatisticsError.invalidParameter(name: "sigma2", requirement: "must be finite and > 0")
        }
        let d = try ScaledMoments(x)
        guard d.variance > 0 else { throw StatisticsError.zeroVariance(what: "sample") }
        let df = Double(x.count - 1)
        // df·v'/m · 2^(2e − k) with sigma2 = m·2^k, m ∈ [1, 2): one rounding, then an exact scaling.
        let k = Int(sigma2.exponent)
        let s = scalbn(df * d.variance / sigma2.significand, Int32(2 * d.exponent - k))
        if s == .infinity || s == 0 {
            return TestResult(statistic: s, pValue: 0, degreesOfFreedom: df)
        }
        return TestResult(
            statistic: s,
            pValue: twoSided(try Distributions.chiSquareP(s, nu: df), try Distributions.chiSquareQ(s, nu: df)),
            degreesOfFreedom: df)
    }

    /// F test of `H0: equal variances` (two-sided), statistic `s_x² / s_y²`. One zero variance
    /// gives a statistic of 0 or `+∞` and the limiting p-value 0.
    ///
    /// - Throws: `StatisticsError` for fewer than two samples, a non-finite value, or both variances zero.
    public static func varianceRatio(_ x: [Double], _ y: [Double]) throws -> TestResult {
        let dx = try ScaledMoments(x)
        let dy = try ScaledMoments(y)
        guard dx.variance > 0 || dy.variance > 0 else { throw StatisticsError.zeroVariance(what: "both samples") }
        let d1 = Double(x.count - 1)
        let d2 = Double(y.count - 1)
        let f: Double
        if dy.variance == 0 {
            f = .infinity
        } else {
            f = scalbn(dx.variance / dy.variance, Int32(2 * (dx.exponent - dy.exponent)))
        }
        if f == .infinity || f == 0 { return TestResult(statistic: f, pValue: 0, degreesOfFreedom: d1) }
        return TestResult(
            statistic: f,
            pValue: twoSided(try Distributions.fP(f, nu1: d1, nu2: d2), try Distributions.fQ(f, nu1: d1, nu2: d2)),
            degreesOfFreedom: d1)
    }

    /// Brown–Forsythe test of equal variances (Levene's test centred at the median): the
    /// one-way ANOVA F statistic of `|x_ij − median_i|`, with `F(k−1, N−k)` tails. Robust to
    /// non-normal data, where the F variance-ratio test is not.
    public static func brownForsythe(_ groups: [[Double]]) throws -> TestResult {
        guard groups.count >= 2 else {
            throw StatisticsError.tooFewSamples(what: "groups", needed: 2, got: groups.count)
        }
        for (i, g) in groups.enumerated() { try requireSamples(g, "group \(i)") }
        // Scale-free: computed on the groups scaled by one power of two.
        let e = ScaledMoments.exponent(of: groups.flatMap { $0 })
        let scaled = groups.map { $0.map { scalbn($0, Int32(-e)) } }
        let z = try scaled.map { g -> [Double] in
            let m = try Description.quantile(g, 0.5)
            return g.map { abs($0 - m) }
        }
        let n = Double(z.reduce(0) { $0 + $1.count })
        let k = Double(z.count)
        let means = z.map { $0.reduce(0, +) / Double($0.count) }
        let grand = z.flatMap { $0 }.reduce(0, +) / n
        let between = zip(z, means).reduce(0.0) { $0 + Double($1.0.count) * ($1.1 - grand) * ($1.1 - grand) }
        let within = zip(z, means).reduce(0.0) { acc, gm in acc + gm.0.reduce(0.0) { $0 + ($1 - gm.1) * ($1 - gm.1) } }
        // No spread within the groups but some between them: F = ∞ and p = 0, SciPy's `levene` convention
        // (and this module's `varianceRatio`); no spread at all decides nothing.
        guard within > 0 || between > 0 else { throw StatisticsError.zeroVariance(what: "absolute deviations") }
        if within == 0 { return TestResult(statistic: .infinity, pValue: 0, degreesOfFreedom: k - 1) }
        let f = (between / (k - 1)) / (within / (n - k))
        return TestResult(
            statistic: f, pValue: try Distributions.fQ(f, nu1: k - 1, nu2: n - k), degreesOfFreedom: k - 1)
    }

    /// Pearson's chi-square goodness of fit with `k − 1 − ddof` degrees of freedom.
    public static func chiSquareGoodnessOfFit(observed: [Double], expected: [Double], ddof: Int = 0) throws
        -> TestResult
    {
        guard observed.count == expected.count else {
            throw StatisticsError.invalidParameter(name: "expected", requirement: "must have \(observed.count) entries")
        }
        guard ddof >= 0 else {
            throw StatisticsError.invalidParameter(name: "ddof", requirement: "must be ≥ 0, got \(ddof)")
        }
        guard ddof <= observed.count - 2 else {
            throw StatisticsError.tooFewSamples(
                what: "categories", needed: ddof > Int.max - 2 ? Int.max : ddof + 2, got: observed.count)
        }
        if let i = expected.firstIndex(where: { !($0 > 0) || !$0.isFinite }) {
            throw StatisticsError.invalidParameter(name: "expected[\(i)]", requirement: "must be finite and > 0")
        }
        if let i = observed.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            throw StatisticsError.nonFinite(what: "observed", index: i)
        }
        // d·(d/e), not d²/e: d² overflows (d = 1e200) where the term (here 5e199) does not.
        let s = zip(observed, expected).reduce(0.0) { acc, oe in
            let d = oe.0 - oe.1
            return acc + d * (d / oe.1)
        }
        let df = Double(observed.count - 1 - ddof)
        return TestResult(statistic: s, pValue: try Distributions.chiSquareQ(s, nu: df), degreesOfFreedom: df)
    }

    /// Exact two-sided binomial test of `H0: success probability = p`, SciPy's definition: the
    /// p-value sums the probabilities of all outcomes no more likely than the observed one
    /// (with a relative tolerance of 1e-7 on "no more likely").
    public static func binomial(successes k: Int, trials n: Int, p: Double) throws -> TestResult {
        guard n >= 1 else { throw StatisticsError.tooFewSamples(what: "trials", needed: 1, got: n) }
        guard k >= 0, k <= n else {
            throw StatisticsError.invalidParameter(name: "successes", requirement: "must lie in 0…\(n)")
        }
        guard p >= 0, p <= 1 else {
            throw StatisticsError.invalidParameter(name: "p", requirement: "must lie in [0, 1]")
        }
        // SciPy's algorithm (scipy.stats.binomtest): the outcomes on the other side of the mode
        // that are no more likely than k are found by binary search (the PMF is monotone on each
        // side), and the p-value is two tail probabilities: O(log n) GSL calls, not n.
        let pmf = { (i: Int) throws -> Double in try Distributions.binomialPMF(i, n: n, p: p) }
        let d = try pmf(k)
        let rerr = 1 + 1e-7
        let mean = p * Double(n)
        let pValue: Double
        if Double(k) == mean {
            pValue = 1
        } else if Double(k) < mean {
            // Largest ix in [⌈pn⌉, n] with pmf(ix) ≥ d·rerr (−pmf is increasing there).
            let ix = try searchBinomial({ -(try pmf($0)) }, -d * rerr, Int(mean.rounded(.up)), n)
            let y = n - ix + (d * rerr == (try pmf(ix)) ? 1 : 0)
            pValue = try Distributions.binomialCDF(k, n: n, p: p) + Distributions.binomialSF(n - y, n: n, p: p)
        } else {
            let ix = try searchBinomial(pmf, d * rerr, 0, Int(mean.rounded(.down)))
            let y = ix + 1
            pValue = try Distributions.binomialCDF(y - 1, n: n, p: p) + Distributions.binomialSF(k - 1, n: n, p: p)
        }
        return TestResult(statistic: Double(k) / Double(n), pValue: min(1, pValue), degreesOfFreedom: nil)
    }

    /// SciPy's `_binary_search_for_binom_tst`: for `a` increasing on `lo…hi`, the `i` with
    /// `a(i) ≤ d < a(i+1)` (`lo − 1` when `a(lo) > d`).
    static func searchBinomial(_ a: (Int) throws -> Double, _ d: Double, _ lo0: Int, _ hi0: Int) throws -> Int {
        var lo = lo0
        var hi = hi0
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            let v = try a(mid)
            if v < d { lo = mid + 1 } else if v > d { hi = mid - 1 } else { return mid }
        }
        return try a(lo) <= d ? lo : lo - 1
    }

    /// The Clopper–Pearson (exact) interval for a binomial proportion at `confidence`.
    public static func clopperPearson(successes k: Int, trials n: Int, confidence: Double = 0.95) throws -> (
        low: Double, high: Double
    ) {
        guard n >= 1, k >= 0, k <= n else {
            throw StatisticsError.invalidParameter(name: "successes", requirement: "need 0 ≤ k ≤ n, n ≥ 1")
        }
        guard confidence > 0, confidence < 1 else {
            throw StatisticsError.invalidParameter(name: "confidence", requirement: "must lie in (0, 1)")
        }
        let a = (1 - confidence) / 2
        let lo = k == 0 ? 0 : try Distributions.betaQuantile(a, a: Double(k), b: Double(n - k + 1))
        let hi = k == n ? 1 : try Distributions.betaUpperQuantile(a, a: Double(k + 1), b: Double(n - k))
        return (lo, hi)
    }

    /// Holm's step-down adjusted p-values (family-wise error control), in the input order.
    public static func holm(_ p: [Double]) throws -> [Double] {
        if let i = p.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            throw StatisticsError.invalidParameter(name: "p[\(i)]", requirement: "must lie in [0, 1]")
        }
        let m = p.count
        let order = p.indices.sorted { p[$0] < p[$1] }
        var adjusted = [Double](repeating: 0, count: m)
        var running = 0.0
        for (rank, i) in order.enumerated() {
            running = max(running, min(1, Double(m - rank) * p[i]))
            adjusted[i] = running
        }
        return adjusted
    }
}
