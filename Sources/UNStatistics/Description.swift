import CGSL

/// Descriptive statistics through GSL, with GSL's definitions: `variance` divides by `n − 1`;
/// `skewness` and `kurtosis` (excess) standardize by that sample standard deviation and average
/// over `n`; quantiles interpolate linearly between order statistics (NumPy's default).
public struct Description: Sendable, Codable, Equatable {
    public var count: Int
    public var mean: Double
    public var variance: Double
    public var skewness: Double
    public var kurtosis: Double

    public init(_ x: [Double]) throws {
        try requireSamples(x, "sample", atLeast: 2)
        let n = x.count
        let (m, v, s, k) = try x.withUnsafeBufferPointer { b in
            try GSL.call { () -> (Double, Double, Double, Double) in
                let m = gsl_stats_mean(b.baseAddress, 1, n)
                let v = gsl_stats_variance_m(b.baseAddress, 1, n, m)
                let sd = v.squareRoot()
                return (
                    m, v, gsl_stats_skew_m_sd(b.baseAddress, 1, n, m, sd),
                    gsl_stats_kurtosis_m_sd(b.baseAddress, 1, n, m, sd)
                )
            }
        }
        guard v > 0 else { throw StatisticsError.zeroVariance(what: "sample") }
        count = n
        mean = m
        variance = v
        skewness = s
        kurtosis = k
    }

    /// The `q`-quantile, `q ∈ [0, 1]`.
    public static func quantile(_ x: [Double], _ q: Double) throws -> Double {
        try requireSamples(x, "sample", atLeast: 1)
        guard q >= 0, q <= 1 else {
            throw StatisticsError.invalidParameter(name: "q", requirement: "must lie in [0, 1]")
        }
        var s = x
        return try s.withUnsafeMutableBufferPointer { b in
            try GSL.call {
                gsl_sort(b.baseAddress, 1, b.count)
                return gsl_stats_quantile_from_sorted_data(b.baseAddress, 1, b.count, q)
            }
        }
    }
}
