import CGSL
import GSLShim

/// A seeded GSL random number generator (Mersenne Twister MT19937) and the samplers the
/// statistical claims need. Same seed, same stream, on every platform GSL runs on.
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

    public func uniform() -> Double { gsl_rng_uniform(rng) }
    public func gaussian(sigma: Double = 1) -> Double { gsl_ran_gaussian(rng, sigma) }
    public func lognormal(zeta: Double, sigma: Double) -> Double { gsl_ran_lognormal(rng, zeta, sigma) }
    public func studentT(nu: Double) -> Double { gsl_ran_tdist(rng, nu) }
    /// Pareto with shape `a` and scale `b` (density ∝ x^{−a−1} on x ≥ b): a heavy tail.
    public func pareto(a: Double, b: Double) -> Double { gsl_ran_pareto(rng, a, b) }

    public func gaussians(_ n: Int, sigma: Double = 1) -> [Double] { (0..<n).map { _ in gaussian(sigma: sigma) } }
}
