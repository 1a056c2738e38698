/// One behaviour of the authors' `UN1d` done the other plausible way: the catalogue of named
/// deviations ("mutants") that the conformance diagnosis searches to explain why a port's trace
/// differs from the reference. Each names the item of the spec's section 4 it changes.
///
/// A ``UnifiedNorm`` in ``UnifiedNormMode/referenceCompatible`` mode with a non-empty
/// ``UnifiedNorm/deviations`` set behaves like the reference except for exactly these behaviours;
/// the paper modes ignore the set.
public enum ReferenceDeviation: String, CaseIterable, Sendable, Codable, Comparable {
    /// Forward 1: the iteration counter incremented after the step (the first step is `t = 0`).
    case counterAfterStep
    /// Forward 3: the pooled threshold with the biased variance (divide by `n`, not `n − 1`).
    case biasedThreshold
    /// Forward 3: a threshold per channel, from that channel's `M` buffer entries, not pooled over all `M·C`.
    case perChannelThreshold
    /// Forward 3: the threshold taken after the current statistic is written (same window, as the paper).
    case sameWindowThreshold
    /// Forward 5: a skip keeps the current statistic in its slot (no rewrite with the running variance).
    case noSlotRewriteOnSkip
    /// Forward 5 and 7, backward 4: no warm-up (`warmupIters` treated as 0).
    case noWarmup
    /// Forward 7: smoothing from the first full window, `t ≥ M`, not `t > M`.
    case smoothingFromFullWindow
    /// Forward 7: the smoothing window without the current statistic (the geometric mean of the
    /// buffer as it was before this step's write).
    case currentOutsideWindow
    /// Forward 8: no gradient compensation factor (`r = 1` always).
    case noCompensation
    /// Forward 8: `r` not clamped to `[1/5, 5]`.
    case noCompensationClamp
    /// Forward 8: `r` in use from `t > warmupIters`, not from `t > max(1000, warmupIters)`.
    case compensationFromWarmup
    /// Forward 10 and backward 5: PyTorch's momentum convention (`α` weights the new value).
    case pytorchMomentum
    /// Backward 2: `g_σ` the mean of `g ⊙ z` over the real tokens only, not over all `B·N` positions.
    case backwardMeansOverRealTokens
    /// Backward 5: the moving average of `g_σ` seeded with the first value instead of starting at 0.
    case movingAverageSeeded
    /// Backward 6: the correction uses the moving average from before this step's update.
    case correctionWithPreviousAverage
    /// Backward 7: `∂L/∂γ = Σ ∂L/∂Y ⊙ z`, without the factor `r`.
    case weightGradientWithoutCompensation
    /// Backward 6: in the smoothed regime the exact gradient of the smoothed forward (history held
    /// fixed, `c = g_σ · σ̂² / (M σ²_t)`) instead of the calibrated moving average.
    case exactGradientThroughSmoothing

    /// The spec item (section 4) the deviation changes.
    public var behaviour: String {
        switch self {
        case .counterAfterStep: return "forward 1: counter incremented before the step"
        case .biasedThreshold: return "forward 3: unbiased variance in the threshold"
        case .perChannelThreshold: return "forward 3: threshold pooled over all M·C entries"
        case .sameWindowThreshold: return "forward 3: threshold from the previous buffer"
        case .noSlotRewriteOnSkip: return "forward 5: a skip rewrites its slot with the running variance"
        case .noWarmup: return "forward 5/7, backward 4: warm-up"
        case .smoothingFromFullWindow: return "forward 7: smoothing only for t > M"
        case .currentOutsideWindow: return "forward 7: the smoothing window includes the current statistic"
        case .noCompensation: return "forward 8: compensation factor r"
        case .noCompensationClamp: return "forward 8: r clamped to [1/5, 5]"
        case .compensationFromWarmup: return "forward 8: r forced to 1 while t ≤ max(1000, warmup)"
        case .pytorchMomentum: return "forward 10, backward 5: α weights the old value"
        case .backwardMeansOverRealTokens: return "backward 2: g_σ averaged over all B·N positions"
        case .movingAverageSeeded: return "backward 5: moving average of g_σ starts at 0"
        case .correctionWithPreviousAverage: return "backward 6: correction with the just-updated moving average"
        case .weightGradientWithoutCompensation: return "backward 7: ∂L/∂γ uses r ⊙ z"
        case .exactGradientThroughSmoothing:
            return "backward 6: calibrated correction (moving average), not the exact gradient"
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
