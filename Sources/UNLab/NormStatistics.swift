import UnifiedNormalization

/// What one norm layer saw at one training step, recorded for the study's fluctuation measures
/// (claim L4): the statistics of the layer's *input*, the same for every norm, so that models
/// with different norms are measured alike.
///
/// Shapes: every array has one entry per channel (`C`).
public struct NormStepStatistics: Sendable, Equatable {
    /// `σ²_c`: the variance of channel `c` of the input over the batch's real tokens (mean removed,
    /// divided by the real-token count; BatchNorm's batch statistic).
    public var variance: [Double]
    /// UN only: the statistic the step normalized by (the smoothed geometric mean of the window,
    /// or the batch's own mean square in warm-up and when the filter fired), and the batch's own
    /// mean square `E[x²]` (UN's raw statistic) before smoothing.
    public var unStatistic: [Double]?
    public var unBatchStatistic: [Double]?
    /// UN only: the step's regime (smoothed, current or skip).
    public var unRegime: UnifiedNormRegime?

    /// The statistics of `x` (`rows × channels`, row-major; `padMask[r]` true = padded row, left out).
    static func observe<Norm: NormalizationLayer>(
        _ x: [Double], channels: Int, padMask: [Bool]?, cache: Norm.Cache, as _: Norm.Type
    ) -> NormStepStatistics where Norm.Scalar == Double {
        let rows = x.count / channels
        var mean = [Double](repeating: 0, count: channels)
        var n = 0
        for r in 0..<rows where padMask?[r] != true {
            n += 1
            for c in 0..<channels { mean[c] += x[r * channels + c] }
        }
        for c in 0..<channels { mean[c] /= Double(max(n, 1)) }
        var variance = [Double](repeating: 0, count: channels)
        for r in 0..<rows where padMask?[r] != true {
            for c in 0..<channels {
                let d = x[r * channels + c] - mean[c]
                variance[c] += d * d
            }
        }
        for c in 0..<channels { variance[c] /= Double(max(n, 1)) }
        let un = cache as? UnifiedNorm<Double>.Cache
        return NormStepStatistics(
            variance: variance, unStatistic: un?.statistic, unBatchStatistic: un?.batchStatistic,
            unRegime: un?.stepRegime)
    }
}
