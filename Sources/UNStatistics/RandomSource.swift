import CGSL
import GSLShim

/// A seeded GSL random number generator (Mersenne Twister MT19937) and the samplers the
/// statistical claims need. Same seed, same stream, on every platform GSL runs on.
///
/// Every sampler validates its parameters (GSL returns NaN, or values outside the support, for
/// bad ones, silently): scale and shape parameters must be finite and > 0, location finite, and a
/// count ≥ 0. Violations throw `StatisticsError.invalidParameter`.
public final class RandomSource {
    private let rng: UnsafeMutablePointer<gsl_rng>
    public let seed: UInt64

    public init(seed: UInt64) {
        // Allocation fails only when memory is exhausted.
        rng = gsl_rng_alloc(unv_gsl_rng_mt19937())!
        self.seed = seed
        gsl_rng_set(rng, UInt(truncatingIfNeeded: seed))
    }
    deinit { gsl_rng_free(rng) }

    /// Uniform on [0, 1).
    public func uniform() -> Double { gsl_rng_uniform(rng) }
    /// N(0, σ²). - Throws: `StatisticsError` for σ not finite and > 0.
    public func gaussian(sigma: Double = 1) throws -> Double {
        try Distributions.positive(sigma, "sigma")
        return gsl_ran_gaussian(rng, sigma)
    }
    /// Log-normal: `exp(N(ζ, σ²))`. - Throws: `StatisticsError` for ζ not finite or σ not finite and > 0.
    public func lognormal(zeta: Double, sigma: Double) throws -> Double {
        guard zeta.isFinite else {
            throw StatisticsError.invalidParameter(name: "zeta", requirement: "must be finite, got \(zeta)")
        }
        try Distributions.positive(sigma, "sigma")
        return gsl_ran_lognormal(rng, zeta, sigma)
    }
    /// Student's t with ν degrees of freedom. - Throws: `StatisticsError` for ν not finite and > 0.
    public func studentT(nu: Double) throws -> Double {
        try Distributions.positive(nu, "nu")
        return gsl_ran_tdist(rng, nu)
    }
    /// Chi-squared with ν degrees of freedom (GSL's `gsl_ran_chisq`, through its gamma sampler):
    /// the law of a sum of ν squared N(0, 1) draws, in one draw instead of ν.
    /// - Throws: `StatisticsError` for ν not finite and > 0.
    public func chiSquare(nu: Double) throws -> Double {
        try Distributions.positive(nu, "nu")
        return gsl_ran_chisq(rng, nu)
    }
    /// Pareto with shape `a` and scale `b` (density ∝ x^{−a−1} on x ≥ b): a heavy tail.
    /// - Throws: `StatisticsError` for `a` or `b` not finite and > 0.
    public func pareto(a: Double, b: Double) throws -> Double {
        try Distributions.positive(a, "a")
        try Distributions.positive(b, "b")
        return gsl_ran_pareto(rng, a, b)
    }

    /// The most draws one call returns: 2²⁸ (2 GiB of `Double`). A larger request would exhaust memory
    /// (2⁴⁰ draws crashed in the allocation); draw in batches instead.
    public static let maximumCount = 1 << 28

    /// `n` draws of N(0, σ²).
    /// - Throws: `StatisticsError.invalidParameter` for `n` outside `0...maximumCount` or σ not finite and > 0.
    public func gaussians(_ n: Int, sigma: Double = 1) throws -> [Double] {
        guard (0...Self.maximumCount).contains(n) else {
            throw StatisticsError.invalidParameter(
                name: "n", requirement: "must be in 0...\(Self.maximumCount) (draw in batches), got \(n)")
        }
        try Distributions.positive(sigma, "sigma")
        return (0..<n).map { _ in gsl_ran_gaussian(rng, sigma) }
    }
}
