/// Linear warm-up, then inverse-square-root decay (Vaswani et al. 2017, arXiv:1706.03762,
/// section 5.3, with the peak given directly): for step `t = 1, 2, …`,
/// `lr(t) = peak · min(t / W, √(W / t))`, which rises linearly to `peak` at `t = W` and then
/// decays as `1/√t`. `W = 0` means no warm-up: `lr(t) = peak / √t`.
public struct LearningRateSchedule: Sendable, Equatable, Codable {
    /// The largest learning rate, reached at step `warmupSteps`. Default 1e-3. Immutable and validated
    /// when decoded too: a schedule with a negative peak gave negative rates.
    public let peak: Double
    /// `W`. Default 100.
    public let warmupSteps: Int

    enum CodingKeys: String, CodingKey { case peak, warmupSteps }

    /// Decodes and validates (as ``init(peak:warmupSteps:)``).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(peak: c.decode(Double.self, forKey: .peak), warmupSteps: c.decode(Int.self, forKey: .warmupSteps))
    }

    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` unless `peak`
    ///   is finite and > 0 and `warmupSteps ≥ 0`.
    public init(peak: Double = 1e-3, warmupSteps: Int = 100) throws {
        guard peak.isFinite, peak > 0 else {
            throw LabError.invalidConfiguration(
                parameter: "peak", value: "\(peak)", requirement: "must be finite and > 0")
        }
        guard warmupSteps >= 0 else {
            throw LabError.invalidConfiguration(
                parameter: "warmupSteps", value: "\(warmupSteps)", requirement: "must be ≥ 0")
        }
        self.peak = peak
        self.warmupSteps = warmupSteps
    }

    /// The learning rate of step `t` (1-based).
    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for `t < 1`.
    public func rate(step t: Int) throws -> Double {
        guard t >= 1 else {
            throw LabError.invalidConfiguration(parameter: "step", value: "\(t)", requirement: "must be ≥ 1")
        }
        let s = Double(t)
        guard warmupSteps > 0 else { return peak / s.squareRoot() }
        let w = Double(warmupSteps)
        return peak * min(s / w, (w / s).squareRoot())
    }
}
