import CGSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Mean and variance of a sample computed on the sample scaled by an exact power of two, so that
/// neither overflows (`[1e308, −1e308, 1e308]`) nor loses bits to underflow (subnormal data):
/// every test statistic built from them is computed in the scaled units, where it is scale-free,
/// or brought back with `scalbn` (exact, or ±∞/0 only when the true value is not representable).
struct ScaledMoments {
    /// Mean and variance (`n − 1`) of `x · 2^(−exponent)`.
    var mean: Double
    var variance: Double
    var count: Int
    var exponent: Int

    /// - Throws: `StatisticsError` for fewer than two samples or a non-finite value.
    init(_ x: [Double], exponent e: Int? = nil) throws {
        try requireSamples(x, "sample")
        let e = e ?? Self.exponent(of: x)
        let s = x.map { scalbn($0, Int32(-e)) }
        let n = s.count
        let (m, v) = try s.withUnsafeBufferPointer { b in
            try GSL.call { () -> (Double, Double) in
                let m = gsl_stats_mean(b.baseAddress, 1, n)
                return (m, gsl_stats_variance_m(b.baseAddress, 1, n, m))
            }
        }
        mean = m
        variance = v
        count = n
        exponent = e
    }

    /// The exponent that brings the largest magnitude into [1/2, 1)·2 (0 for an all-zero sample).
    static func exponent(of x: [Double]) -> Int {
        let m = x.map(abs).max() ?? 0
        return m > 0 && m.isFinite ? Int(m.exponent) + 1 : 0
    }
}
