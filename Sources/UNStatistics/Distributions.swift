import CGSL

/// Cumulative distribution functions (`P`, lower tail) and survival functions (`Q`, upper
/// tail) through GSL. Both tails are computed directly, so small tail probabilities keep their
/// relative accuracy (no `1 − P`).
public enum Distributions {
    public static func normalP(_ x: Double) throws -> Double { try GSL.call { gsl_cdf_ugaussian_P(x) } }
    public static func normalQ(_ x: Double) throws -> Double { try GSL.call { gsl_cdf_ugaussian_Q(x) } }
    public static func studentTP(_ x: Double, nu: Double) throws -> Double { try GSL.call { gsl_cdf_tdist_P(x, nu) } }
    public static func studentTQ(_ x: Double, nu: Double) throws -> Double { try GSL.call { gsl_cdf_tdist_Q(x, nu) } }
    public static func chiSquareP(_ x: Double, nu: Double) throws -> Double { try GSL.call { gsl_cdf_chisq_P(x, nu) } }
    public static func chiSquareQ(_ x: Double, nu: Double) throws -> Double { try GSL.call { gsl_cdf_chisq_Q(x, nu) } }
    public static func fP(_ x: Double, nu1: Double, nu2: Double) throws -> Double { try GSL.call { gsl_cdf_fdist_P(x, nu1, nu2) } }
    public static func fQ(_ x: Double, nu1: Double, nu2: Double) throws -> Double { try GSL.call { gsl_cdf_fdist_Q(x, nu1, nu2) } }
    /// The `p`-quantile of Beta(a, b). GSL reports `p` outside [0, 1] as an error (thrown).
    public static func betaQuantile(_ p: Double, a: Double, b: Double) throws -> Double { try GSL.call { gsl_cdf_beta_Pinv(p, a, b) } }
    public static func betaUpperQuantile(_ q: Double, a: Double, b: Double) throws -> Double { try GSL.call { gsl_cdf_beta_Qinv(q, a, b) } }
    public static func binomialPMF(_ k: Int, n: Int, p: Double) throws -> Double {
        try GSL.call { gsl_ran_binomial_pdf(UInt32(k), p, UInt32(n)) }
    }
    /// Two-sided tail of Student's t, `P(|T| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, 1/2)`, through the
    /// regularized incomplete beta: accurate in the far tail, where GSL's `gsl_cdf_tdist_Q`
    /// (an asymptotic expansion for large ν) was measured 1e-7 off at p ≈ 2e-21, ν = 218.
    public static func studentTTwoSided(_ t: Double, nu: Double) throws -> Double {
        try GSL.call { gsl_sf_beta_inc(nu / 2, 0.5, nu / (nu + t * t)) }
    }

    /// `ln Γ(x)`.
    public static func logGamma(_ x: Double) throws -> Double { try GSL.call { gsl_sf_lngamma(x) } }
}
