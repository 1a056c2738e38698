import CGSL

/// Kolmogorov–Smirnov tests. GSL has no Kolmogorov distribution; this file implements it.
///
/// One sample, two-sided `D_n = sup|F_n − F|`:
/// - exact: `P(D_n < d)` by the Durbin matrix method of Marsaglia, Tsang & Wang (2003) (an
///   `m × m` matrix power, `m = 2⌈nd⌉ − 1`, with exponent tracking), used where the upper tail
///   is not small; where it is (`n d² ≥ 2.2`, or `d ≥ 1/2`) the tail `2·P(D_n⁺ ≥ d)` from
///   Smirnov's exact one-sided formula (Birnbaum–Tingey), summed in positive terms, which is exact
///   for `d ≥ 1/2` and has relative error below the square of the tail otherwise. Both
///   regimes follow SciPy's `kstwo` choices, so the two agree to rounding.
/// - asymptotic: Kolmogorov's limit `Q(√n d) = 2 Σ (−1)^{k−1} e^{−2k²n d²}`.
/// Two samples, two-sided, exact: the probability that a uniformly random lattice path from
/// `(0,0)` to `(m,n)` leaves the band `|i/m − j/n| < d`, accumulated as it leaves (positive
/// terms only, so small p-values keep their relative accuracy).
public enum KolmogorovSmirnov {
    public enum Method: String, Sendable { case exact, asymptotic }

    /// The largest sample the exact one-sample distribution is computed for: the Durbin matrix
    /// has order `2⌈nd⌉ − 1 ≈ n^{1/2}` at typical `d`, and its power costs that cubed (n = 10⁶
    /// took 444 s). Above it, ask for `.asymptotic` (Kolmogorov's limit, relative error of order
    /// `n^{−1/2}` in the p-value: below 1% here).
    public static let exactLimit = 10_000

    /// One-sample test of `x` against the continuous CDF `cdf`.
    ///
    /// - Throws: `StatisticsError` for an empty sample, a non-finite value, a CDF value outside
    ///   [0, 1], or `.exact` with more than ``exactLimit`` samples; the CDF's own errors.
    public static func oneSample(_ x: [Double], cdf: (Double) throws -> Double, method: Method = .exact) throws
        -> TestResult
    {
        try requireSamples(x, "sample", atLeast: 1)
        if method == .exact && x.count > exactLimit {
            throw StatisticsError.invalidParameter(
                name: "method",
                requirement: "exact one-sample KS is limited to n ≤ \(exactLimit) (got \(x.count)); use .asymptotic")
        }
        let s = x.sorted()
        let n = Double(s.count)
        var d = 0.0
        for (i, v) in s.enumerated() {
            let f = try cdf(v)
            guard f >= 0, f <= 1 else {
                throw StatisticsError.invalidParameter(
                    name: "cdf", requirement: "must return values in [0, 1], got \(f)")
            }
            d = max(d, Double(i + 1) / n - f, f - Double(i) / n)
        }
        let p = try method == .exact ? exactSF(n: s.count, d: d) : asymptoticSF(n: s.count, d: d)
        return TestResult(statistic: d, pValue: p, degreesOfFreedom: nil)
    }

    /// Validates `n` in `1…limit` and `d` not NaN (every distribution helper below).
    static func validate(n: Int, d: Double, limit: Int) throws {
        guard n >= 1, n <= limit else {
            throw StatisticsError.invalidParameter(name: "n", requirement: "must lie in 1…\(limit), got \(n)")
        }
        guard !d.isNaN else { throw StatisticsError.invalidParameter(name: "d", requirement: "must not be NaN") }
    }

    /// The largest `n` of Smirnov's one-sided sum (one term per `j ≤ n`).
    public static let smirnovLimit = 10_000_000

    /// `P(D_n ≥ d)`, exact.
    /// - Throws: `StatisticsError` for `n` outside `1…exactLimit` or NaN `d`.
    public static func exactSF(n: Int, d: Double) throws -> Double {
        try validate(n: n, d: d, limit: exactLimit)
        if d <= 0 { return 1 }
        let nd = Double(n) * d
        if d >= 1 { return 0 }
        if nd <= 0.5 { return 1 }
        if nd <= 1 {
            // Ruben–Gambino: P(D_n < d) = n!/n^n (2nd − 1)^n for 1/(2n) ≤ d ≤ 1/n.
            var logp = 0.0
            for i in 1...n { logp += log(Double(i) / Double(n) * (2 * nd - 1)) }
            return 1 - exp(logp)
        }
        if nd >= Double(n - 1) { return 2 * pow(1 - d, Double(n)) }
        let nxx = nd * d
        if d >= 0.5 || nxx >= 2.2 { return min(1, 2 * (try smirnovSF(n: n, d: d))) }
        return max(0, 1 - (try durbinCDF(n: n, d: d)))
    }

    /// Smirnov's one-sided `P(D_n⁺ ≥ d) = d Σ_{j=0}^{⌊n(1−d)⌋} C(n,j) (1 − d − j/n)^{n−j} (d + j/n)^{j−1}`,
    /// each term computed in the log domain.
    /// - Throws: `StatisticsError` for `n` outside `1…smirnovLimit` or NaN `d`.
    public static func smirnovSF(n: Int, d: Double) throws -> Double {
        try validate(n: n, d: d, limit: smirnovLimit)
        if d <= 0 { return 1 }
        if d >= 1 { return 0 }
        let nn = Double(n)
        let jmax = Int((nn * (1 - d)).rounded(.down))
        var s = 0.0
        // Each term C(n,j) a^{n−j} b^{j−1}, a = 1 − d − j/n, b = d + j/n, a + b = 1, is the binomial
        // probability P(X = j), X ~ Binomial(n, b), divided by b: Loader's form (BinomialTerms) keeps its
        // digits, where ln n! − ln j! − ln (n−j)! from log-gamma values of size n ln n lost 1e-10 at n = 1e5.
        for j in 0...max(jmax, 0) {
            let a = 1 - d - Double(j) / nn
            guard a > 0 else { continue }
            let b = d + Double(j) / nn
            s += exp(BinomialTerms.logPMF(j, n: n, p: b) - log(b))
        }
        return d * s
    }

    /// The largest order `m = 2⌊nd⌋ + 1` of the Durbin matrix: its powers cost `m³ log n` (n = 10,000,
    /// d = 0.2 needed m = 4001 and ran for minutes). `exactSF` never needs more (it uses the matrix only
    /// where `n d² < 2.2`, so `m ≤ 2√(2.2 n) + 1 ≤ 299`).
    public static let durbinOrderLimit = 301

    /// `P(D_n < d)` by the Durbin matrix (Marsaglia, Tsang & Wang 2003).
    /// - Throws: `StatisticsError` for `n` outside `1…exactLimit`, NaN `d`, or a matrix order beyond
    ///   ``durbinOrderLimit`` (use ``exactSF(n:d:)``, which routes such `d` to Smirnov's sum).
    public static func durbinCDF(n: Int, d: Double) throws -> Double {
        try validate(n: n, d: d, limit: exactLimit)
        if d <= 0 { return 0 }
        if d >= 1 { return 1 }
        let k = Int((Double(n) * d).rounded(.down)) + 1
        let m = 2 * k - 1
        guard m <= durbinOrderLimit else {
            throw StatisticsError.invalidParameter(
                name: "d",
                requirement: "n·d must be below \((durbinOrderLimit + 1) / 2) for the Durbin matrix "
                    + "(got n = \(n), d = \(d)); use exactSF")
        }
        let h = Double(k) - Double(n) * d
        var hm = [Double](repeating: 0, count: m * m)
        for i in 0..<m { for j in 0..<m where i - j + 1 >= 0 { hm[i * m + j] = 1 } }
        for i in 0..<m {
            hm[i * m] -= pow(h, Double(i + 1))
            hm[(m - 1) * m + i] -= pow(h, Double(m - i))
        }
        if 2 * h - 1 > 0 { hm[(m - 1) * m] += pow(2 * h - 1, Double(m)) }
        for i in 0..<m {
            for j in 0..<m where i - j + 1 > 0 {
                var f = 1.0
                for g in 1...(i - j + 1) { f *= Double(g) }
                hm[i * m + j] /= f
            }
        }
        // H^n by squaring, keeping a power-of-two exponent separately to avoid overflow.
        func mul(_ a: [Double], _ b: [Double]) -> [Double] {
            var c = [Double](repeating: 0, count: m * m)
            for i in 0..<m {
                for l in 0..<m where a[i * m + l] != 0 {
                    let av = a[i * m + l]
                    for j in 0..<m { c[i * m + j] += av * b[l * m + j] }
                }
            }
            return c
        }
        var result = [Double](repeating: 0, count: m * m)
        for i in 0..<m { result[i * m + i] = 1 }
        var resultExp = 0
        var base = hm
        var baseExp = 0
        var e = n
        func renorm(_ a: inout [Double], _ ex: inout Int) {
            let big = a.map(abs).max() ?? 0
            guard big > 0 else { return }
            let s = Int(log2(big).rounded(.down))
            if abs(s) > 100 {
                for i in a.indices { a[i] = scalbn(a[i], -Int32(s)) }
                ex += s
            }
        }
        while e > 0 {
            if e & 1 == 1 {
                result = mul(result, base)
                resultExp += baseExp
                renorm(&result, &resultExp)
            }
            e >>= 1
            if e > 0 {
                base = mul(base, base)
                baseExp *= 2
                renorm(&base, &baseExp)
            }
        }
        var s = result[(k - 1) * m + (k - 1)]
        // times n!/n^n, in the log domain with the exponent.
        var logf = 0.0
        for i in 1...n { logf += log(Double(i) / Double(n)) }
        s = exp(log(s) + logf + Double(resultExp) * log(2.0))
        return min(max(s, 0), 1)
    }

    /// Kolmogorov's limit distribution: `P(√n D_n ≥ t) → 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²t²}`.
    /// - Throws: `StatisticsError` for `n < 1` or NaN `d`.
    public static func asymptoticSF(n: Int, d: Double) throws -> Double {
        try validate(n: n, d: d, limit: .max)
        let t = Double(n).squareRoot() * d
        if t < 0.2 { return 1 }
        var s = 0.0
        for k in 1...100 {
            let term = exp(-2 * Double(k * k) * t * t)
            s += (k % 2 == 1 ? 1 : -1) * term
            if term < 1e-300 { break }
        }
        return min(1, max(0, 2 * s))
    }

    /// The largest `m · n` of the exact two-sample test (its lattice walk visits every point).
    public static let twoSampleLimit = 100_000_000

    /// Two-sample test, exact (samples assumed tie-free, as for continuous data).
    /// - Throws: `StatisticsError` for an empty sample, a non-finite value, or `m · n` above
    ///   ``twoSampleLimit``.
    public static func twoSample(_ x: [Double], _ y: [Double]) throws -> TestResult {
        try requireSamples(x, "first sample", atLeast: 1)
        try requireSamples(y, "second sample", atLeast: 1)
        let (size, overflow) = x.count.multipliedReportingOverflow(by: y.count)
        guard !overflow, size <= twoSampleLimit else {
            throw StatisticsError.invalidParameter(
                name: "samples", requirement: "exact two-sample KS is limited to m·n ≤ \(twoSampleLimit)")
        }
        let a = x.sorted()
        let b = y.sorted()
        let m = a.count
        let n = b.count
        // D as the integer c = max |i·n − j·m| over the merged order (D = c/(m n)).
        var i = 0
        var j = 0
        var c = 0
        while i < m || j < n {
            let v = min(i < m ? a[i] : .infinity, j < n ? b[j] : .infinity)
            while i < m && a[i] == v { i += 1 }
            while j < n && b[j] == v { j += 1 }
            c = max(c, abs(i * n - j * m))
        }
        let d = Double(c) / Double(m * n)
        // Probability mass of uniformly random lattice paths, leaving where |i n − j m| ≥ c.
        var row = [Double](repeating: 0, count: n + 1)
        var exited = 0.0
        row[0] = 1
        for ii in 0...m {
            var next = [Double](repeating: 0, count: n + 1)
            for jj in 0...n where row[jj] > 0 {
                let remaining = Double(m - ii + n - jj)
                guard remaining > 0 else { continue }
                let pr = Double(m - ii) / remaining
                let pu = Double(n - jj) / remaining
                if ii < m {
                    if abs((ii + 1) * n - jj * m) >= c { exited += row[jj] * pr } else { next[jj] += row[jj] * pr }
                }
                if jj < n {
                    if abs(ii * n - (jj + 1) * m) >= c { exited += row[jj] * pu } else { row[jj + 1] += row[jj] * pu }
                }
            }
            row = next
        }
        return TestResult(statistic: d, pValue: min(1, exited), degreesOfFreedom: nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
