import CGSL
import Foundation

/// Cumulative distribution functions (`P`, lower tail) and survival functions (`Q`, upper
/// tail) through GSL. Both tails are computed directly, so small tail probabilities keep their
/// relative accuracy (no `1 − P`).
public enum Distributions {
    // Every function validates its parameters before GSL sees them (a NaN probability sent
    // GSL's quantile iterations into an endless loop): `x` must not be NaN (±∞ give the
    // limits), degrees of freedom and shape parameters must be finite and > 0, probabilities
    // must lie in [0, 1]. Violations throw `StatisticsError.invalidParameter`.

    /// `P(Z ≤ x)`. - Throws: `StatisticsError` for NaN.
    public static func normalP(_ x: Double) throws -> Double {
        try arg(x)
        return try GSL.call { gsl_cdf_ugaussian_P(x) }
    }
    /// `P(Z > x)`. - Throws: `StatisticsError` for NaN.
    public static func normalQ(_ x: Double) throws -> Double {
        try arg(x)
        return try GSL.call { gsl_cdf_ugaussian_Q(x) }
    }
    /// `P(T ≤ x)`, ν degrees of freedom. - Throws: `StatisticsError` for NaN or ν not finite and > 0.
    public static func studentTP(_ x: Double, nu: Double) throws -> Double {
        try arg(x)
        try positive(nu, "nu")
        if x.isInfinite { return x > 0 ? 1 : 0 }
        if nu > 1e7 { return try largeNuTail(-x, nu: nu) }
        if x < 0, let far = try farTail(x, nu: nu) { return min(0.5, far) }
        return try finite(tail { gsl_cdf_tdist_P(x, nu) }, "studentTP")
    }
    /// `P(T > x)`. - Throws: as ``studentTP(_:nu:)``.
    public static func studentTQ(_ x: Double, nu: Double) throws -> Double {
        try arg(x)
        try positive(nu, "nu")
        if x.isInfinite { return x > 0 ? 0 : 1 }
        if nu > 1e7 { return try largeNuTail(x, nu: nu) }
        if x > 0, let far = try farTail(x, nu: nu) { return min(0.5, far) }
        return try finite(tail { gsl_cdf_tdist_Q(x, nu) }, "studentTQ")
    }
    /// `P(χ²_ν ≤ x)`. - Throws: as ``studentTP(_:nu:)``.
    public static func chiSquareP(_ x: Double, nu: Double) throws -> Double {
        try arg(x)
        try positive(nu, "nu")
        if x <= 0 { return 0 }
        if x == .infinity { return 1 }
        return try finite(tail { gsl_cdf_chisq_P(x, nu) }, "chiSquareP")
    }
    /// `P(χ²_ν > x)`. - Throws: as ``studentTP(_:nu:)``.
    public static func chiSquareQ(_ x: Double, nu: Double) throws -> Double {
        try arg(x)
        try positive(nu, "nu")
        if x <= 0 { return 1 }
        if x == .infinity { return 0 }
        return try finite(tail { gsl_cdf_chisq_Q(x, nu) }, "chiSquareQ")
    }
    /// `P(F ≤ x)`. - Throws: `StatisticsError` for NaN or ν₁, ν₂ not finite and > 0.
    public static func fP(_ x: Double, nu1: Double, nu2: Double) throws -> Double {
        try arg(x)
        try fDegrees(nu1, nu2)
        if x <= 0 { return 0 }
        if x == .infinity { return 1 }
        return try finite(tail { gsl_cdf_fdist_P(x, nu1, nu2) }, "fP")
    }
    /// `P(F > x)`. - Throws: as ``fP(_:nu1:nu2:)``.
    public static func fQ(_ x: Double, nu1: Double, nu2: Double) throws -> Double {
        try arg(x)
        try fDegrees(nu1, nu2)
        if x <= 0 { return 1 }
        if x == .infinity { return 0 }
        return try finite(tail { gsl_cdf_fdist_Q(x, nu1, nu2) }, "fQ")
    }

    static func arg(_ x: Double) throws {
        guard !x.isNaN else { throw StatisticsError.invalidParameter(name: "x", requirement: "must not be NaN") }
    }
    static func positive(_ v: Double, _ name: String) throws {
        guard v.isFinite, v > 0 else {
            throw StatisticsError.invalidParameter(name: name, requirement: "must be finite and > 0, got \(v)")
        }
    }
    static func probability(_ p: Double, _ name: String) throws {
        guard p >= 0, p <= 1 else {
            throw StatisticsError.invalidParameter(name: name, requirement: "must lie in [0, 1], got \(p)")
        }
    }
    /// The `p`-quantile of Beta(a, b). GSL reports `p` outside [0, 1] as an error (thrown).
    ///
    /// - Throws: `StatisticsError` for `p` outside [0, 1] (or NaN) and `a`, `b` not finite and > 0.
    public static func betaQuantile(_ p: Double, a: Double, b: Double) throws -> Double {
        try probability(p, "p")
        try positive(a, "a")
        try positive(b, "b")
        if p == 0 { return 0 }
        if p == 1 { return 1 }
        if p == 0.5 && a == b { return 0.5 }  // the median of a symmetric beta, exactly
        // The smallest x with P(x) ≥ p, by bisection over the ordered bit patterns of [0, 1]: at
        // most 64 CDF evaluations whatever a and b are (GSL's own inverse iterated without end at
        // a = b = 10⁶), and the answer is the nearest double the CDF can tell apart.
        return try bisect { x in try finite(tail { gsl_cdf_beta_P(x, a, b) }, "betaQuantile") >= p }
    }
    /// `P(X ≤ x)` for `X ~ Beta(a, b)` (internal: the quantiles' tests check their crossing with it).
    static func betaCDFForTesting(_ x: Double, a: Double, b: Double) throws -> Double {
        try GSL.call { gsl_cdf_beta_P(x, a, b) }
    }
    /// The smallest `x` in [0, 1] with `rising(x)` true, for `rising` false then true along [0, 1].
    static func bisect(_ rising: (Double) throws -> Bool) throws -> Double {
        var lo: UInt64 = 0  // bits of 0.0: rising false (or the answer is 0)
        var hi: UInt64 = (1.0).bitPattern
        if try rising(0) { return 0 }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if try rising(Double(bitPattern: mid)) { hi = mid } else { lo = mid }
        }
        return Double(bitPattern: hi)
    }
    /// The upper `q`-quantile of Beta(a, b). - Throws: as ``betaQuantile(_:a:b:)``.
    public static func betaUpperQuantile(_ q: Double, a: Double, b: Double) throws -> Double {
        try probability(q, "q")
        try positive(a, "a")
        try positive(b, "b")
        if q == 1 { return 0 }
        if q == 0 { return 1 }
        if q == 0.5 && a == b { return 0.5 }
        // The smallest x with Q(x) ≤ q (Q computed directly: small upper tails keep their digits).
        return try bisect { x in try finite(tail { gsl_cdf_beta_Q(x, a, b) }, "betaUpperQuantile") <= q }
    }

    /// `P(X ≤ k)` for `X ~ Binomial(n, p)` (0 for `k < 0`, 1 for `k ≥ n`): the smaller tail summed from
    /// `k` away from the mode (``BinomialTerms``), the other as its complement.
    /// - Throws: as ``binomialPMF(_:n:p:)`` for `n` and `p`.
    public static func binomialCDF(_ k: Int, n: Int, p: Double) throws -> Double {
        try binomialParameters(n: n, p: p)
        if k < 0 { return 0 }
        if k >= n { return 1 }
        return try finite(BinomialTerms.cdf(k, n: n, p: p), "binomialCDF")
    }
    /// `P(X > k)` for `X ~ Binomial(n, p)` (1 for `k < 0`, 0 for `k ≥ n`), computed directly.
    /// - Throws: as ``binomialPMF(_:n:p:)`` for `n` and `p`.
    public static func binomialSF(_ k: Int, n: Int, p: Double) throws -> Double {
        try binomialParameters(n: n, p: p)
        if k < 0 { return 1 }
        if k >= n { return 0 }
        return try finite(BinomialTerms.sf(k, n: n, p: p), "binomialSF")
    }
    static func binomialParameters(n: Int, p: Double) throws {
        guard n >= 0, n <= Int(UInt32.max) else {
            throw StatisticsError.invalidParameter(name: "n", requirement: "must lie in 0…\(UInt32.max)")
        }
        try probability(p, "p")
    }
    /// A GSL probability that came back NaN is an error, never a silent NaN (GSL's incomplete
    /// beta returns NaN without an error near the centre at a = b = 10⁶, for example); one that
    /// rounding put just outside [0, 1] (1 + 2e-14 at ν = 1e-167) is clamped to it.
    static func finite(_ v: Double, _ what: String) throws -> Double {
        guard !v.isNaN else {
            throw StatisticsError.invalidParameter(
                name: what, requirement: "not computable at these parameters (the computation returned NaN)")
        }
        return min(1, max(0, v))
    }
    /// `P(X = k)` for `X ~ Binomial(n, p)`, by Loader's saddle-point form (``BinomialTerms``): a few
    /// ulps for every `n` (GSL's log-gamma form lost digits in proportion to `n`: 9e-6 at `n = 2³²−1`).
    /// - Throws: `StatisticsError` for `n` outside 0…2³²−1, `k` outside 0…n, or `p` outside [0, 1].
    public static func binomialPMF(_ k: Int, n: Int, p: Double) throws -> Double {
        guard n >= 0, n <= Int(UInt32.max) else {
            throw StatisticsError.invalidParameter(name: "n", requirement: "must lie in 0…\(UInt32.max)")
        }
        guard k >= 0, k <= n else {
            throw StatisticsError.invalidParameter(name: "k", requirement: "must lie in 0…\(n)")
        }
        try probability(p, "p")
        return BinomialTerms.pmf(k, n: n, p: p)
    }
    /// Two-sided tail of Student's t, `P(|T| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, 1/2)`, through the
    /// regularized incomplete beta: accurate in the far tail, where GSL's `gsl_cdf_tdist_Q`
    /// (an asymptotic expansion for large ν) was measured 1e-7 off at p ≈ 2e-21, ν = 218.
    ///
    /// - Throws: `StatisticsError` for NaN `t` or ν not finite and > 0.
    public static func studentTTwoSided(_ t: Double, nu: Double) throws -> Double {
        try arg(t)
        try positive(nu, "nu")
        if t.isInfinite { return 0 }
        if let far = try farTail(t, nu: nu) { return min(1, 2 * far) }
        let t2 = t * t
        let r = nu / (nu + t2)
        // For ν ≤ 10⁷ the regularized incomplete beta is accurate (measured against mpmath: ≤ 3e-11
        // relative at t ≤ 30). Beyond, r rounds towards 1 and the tail loses its digits (ν = 10²⁰,
        // t = 3 gave p = 1), and GSL's own t tail was measured 1e-2 off at ν = 10¹⁶: the normal
        // approximation with the 1/(4ν) correction (Fisher's; R's pt for ν > 4·10⁵) is used, whose
        // error is O(t⁸/ν²) (measured against mpmath at t ∈ {0.5, 3, 10, 30}: ≤ 4e-12 relative at
        // ν = 10⁸ for t ≤ 10, 3e-9 at t = 30 where p ≈ 1e-197; ≤ 2e-13 for ν ≥ 10¹⁰).
        if nu <= 1e7 { return try finite(tail { gsl_sf_beta_inc(nu / 2, 0.5, r) }, "studentTTwoSided") }
        return min(1, 2 * (try largeNuTail(abs(t), nu: nu)))
    }

    /// `P(T > |t|)` where `x = ν/(ν+t²) < 10⁻²⁰`: `I_x(ν/2, 1/2)/2` by its leading term
    /// `x^{ν/2} / (ν B(ν/2, 1/2))` (relative error below `x`), in the log domain: `t²` and `x` may be
    /// beyond the range (t = 1e155, ν = 1: x ≈ 1e−310) where the tail (6.4e−156) is not. `nil` elsewhere.
    /// (At tiny ν the tail is ≈ 1/2 and rounding may put it a few ulps above: callers clamp.)
    static func farTail(_ t: Double, nu: Double) throws -> Double? {
        // Beyond ν = 10⁷ the normal approximation decides (log Γ(ν/2) would overflow here).
        guard nu <= 1e7 else { return nil }
        let a = abs(t)
        // log x = log ν − 2 log|t| − log1p(ν/t²), formed without t² (which overflows first).
        let ratio = nu.squareRoot() / a
        guard ratio < 1e-10 else { return nil }
        let logX = log(nu) - 2 * log(a) - log1p(ratio * ratio)
        let half = nu / 2
        let logBeta = try logGamma(half) + logGamma(0.5) - logGamma(half + 0.5)
        return exp(half * logX - log(nu) - logBeta)
    }

    /// A GSL tail probability; GSL's underflow error (`GSL_EUNDRFLW`: the value is below the smallest
    /// normal number, as the t tail at t = 40, ν = 10⁶, 1.4e−349) is the probability 0, not an error.
    static func tail(_ body: () -> Double) throws -> Double {
        do { return try GSL.call(body) } catch let e as GSLError where e.code == GSL_EUNDRFLW { return 0 }
    }

    /// The F distribution's degrees of freedom: finite, and at least 10⁻⁴. Below, GSL's incomplete
    /// beta loses digits (measured against mpmath, P(F > 0.5) at ν₂ = 1: 2e-12 relative at ν₁ = 10⁻⁴,
    /// 3e-10 at 10⁻⁶, 3e-6 at 10⁻¹⁰, off by a factor 10⁴ at 10⁻²⁰), so such ν is refused, not answered.
    static func fDegrees(_ nu1: Double, _ nu2: Double) throws {
        try positive(nu1, "nu1")
        try positive(nu2, "nu2")
        for (name, v) in [("nu1", nu1), ("nu2", nu2)] where v < 1e-4 {
            throw StatisticsError.invalidParameter(
                name: name, requirement: "must be ≥ 1e-4 (GSL's F tails lose accuracy below), got \(v)")
        }
    }

    /// Student's t tail `P(T > t)` for `ν > 10⁷` by the normal approximation with Fisher's 1/(4ν)
    /// correction (see ``studentTTwoSided(_:nu:)``), with `z` formed without `t²` (which overflows
    /// first: t = 1e155 at ν = 1e300 gave z = 0 and p = 1).
    static func largeNuTail(_ t: Double, nu: Double) throws -> Double {
        let v = 1 / (4 * nu)
        let a = abs(t)
        let r = a / (2 * nu).squareRoot()
        // z = |t|(1 − v)/√(1 + t²·2v) = |t|(1 − v)/√(1 + r²); for r > 1 as (1 − v)√(2ν)/√(1 + 1/r²).
        let z =
            r > 1
            ? (1 - v) * (2 * nu).squareRoot() / (1 + 1 / (r * r)).squareRoot() : a * (1 - v) / (1 + r * r).squareRoot()
        let q = try finite(tail { gsl_cdf_ugaussian_Q(z) }, "studentT")
        return t >= 0 ? q : 1 - q
    }

    /// `ln Γ(x)`.
    /// - Throws: `StatisticsError` for NaN; `GSLError` (domain) at the poles 0, −1, −2, ….
    public static func logGamma(_ x: Double) throws -> Double {
        try arg(x)
        return try GSL.call { gsl_sf_lngamma(x) }
    }
}
