import RealModule

/// Adam with decoupled weight decay (Loshchilov & Hutter, arXiv:1711.05101), as PyTorch's
/// `torch.optim.AdamW` computes it, for step `t` with learning rate `η_t` from the schedule:
///
///     θ ← θ − η_t λ θ
///     m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²
///     θ ← θ − η_t · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
///
/// The decay is applied to every tensor (one parameter group, as PyTorch's default).
public struct AdamW: Sendable, Equatable {
    /// Options, with `torch.optim.AdamW`'s defaults (weight decay 0.01 included).
    public struct Options: Sendable, Equatable, Codable {
        /// `β₁`, default 0.9.
        public let beta1: Double
        /// `β₂`, default 0.999.
        public let beta2: Double
        /// `ε`, default 1e-8.
        public let epsilon: Double
        /// `λ`, default 0.01.
        public let weightDecay: Double
        /// The learning rate per step (default: peak 1e-3, warm-up 100 steps).
        public let schedule: LearningRateSchedule

        /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for `β` outside
        ///   `[0, 1)`, `ε ≤ 0` or `λ < 0` (any non-finite value included).
        public init(
            beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01,
            schedule: LearningRateSchedule? = nil
        ) throws {
            for (name, b) in [("beta1", beta1), ("beta2", beta2)] where !(b >= 0 && b < 1) {
                throw LabError.invalidConfiguration(parameter: name, value: "\(b)", requirement: "must lie in [0, 1)")
            }
            guard epsilon.isFinite, epsilon > 0 else {
                throw LabError.invalidConfiguration(
                    parameter: "epsilon", value: "\(epsilon)", requirement: "must be finite and > 0")
            }
            guard weightDecay.isFinite, weightDecay >= 0 else {
                throw LabError.invalidConfiguration(
                    parameter: "weightDecay", value: "\(weightDecay)", requirement: "must be finite and ≥ 0")
            }
            self.beta1 = beta1
            self.beta2 = beta2
            self.epsilon = epsilon
            self.weightDecay = weightDecay
            self.schedule = try schedule ?? LearningRateSchedule()
        }

        enum CodingKeys: String, CodingKey { case beta1, beta2, epsilon, weightDecay, schedule }

        /// Decodes and validates (as the initializer): decoded options bypassed every check before.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try self.init(
                beta1: c.decode(Double.self, forKey: .beta1), beta2: c.decode(Double.self, forKey: .beta2),
                epsilon: c.decode(Double.self, forKey: .epsilon),
                weightDecay: c.decode(Double.self, forKey: .weightDecay),
                schedule: c.decode(LearningRateSchedule.self, forKey: .schedule))
        }
    }

    public let options: Options
    /// Steps taken so far.
    public private(set) var step = 0
    public private(set) var firstMoment: [[Double]]
    public private(set) var secondMoment: [[Double]]

    /// An optimizer for tensors of the sizes of `parameters`, moments at zero.
    public init(options: Options, like parameters: [[Double]]) {
        self.options = options
        firstMoment = parameters.map { [Double](repeating: 0, count: $0.count) }
        secondMoment = firstMoment
    }

    /// One update of `parameters` by `gradient`.
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` for tensors of other sizes,
    ///   ``LabError/nonFinite(what:index:)`` for a non-finite gradient (nothing is changed then).
    /// A parameter or moment that would leave the range is a typed error, and nothing is changed.
    public mutating func update(_ parameters: inout [[Double]], gradient: [[Double]]) throws {
        var (p, m, v) = (parameters, firstMoment, secondMoment)
        try apply(&p, &m, &v, gradient: gradient)
        for (name, tensors) in [("parameter", p), ("first moment", m), ("second moment", v)] {
            for (k, t) in tensors.enumerated() where t.contains(where: { !$0.isFinite }) {
                throw LabError.nonFinite(what: "AdamW \(name) of tensor \(k) (beyond the range)", index: k)
            }
        }
        (parameters, firstMoment, secondMoment) = (p, m, v)
        step += 1
    }

    private func apply(
        _ parameters: inout [[Double]], _ firstMoment: inout [[Double]], _ secondMoment: inout [[Double]],
        gradient: [[Double]]
    ) throws {
        try ParameterTensors.validate(gradient[...], like: firstMoment, "gradient")
        try ParameterTensors.validate(parameters[...], like: firstMoment, "parameter")
        let t = step + 1
        let lr = try options.schedule.rate(step: t)
        let o = options
        let c1 = 1 - Double.pow(o.beta1, Double(t))
        let c2 = 1 - Double.pow(o.beta2, Double(t))
        for k in parameters.indices {
            for i in parameters[k].indices {
                let g = gradient[k][i]
                parameters[k][i] -= lr * o.weightDecay * parameters[k][i]
                firstMoment[k][i] = o.beta1 * firstMoment[k][i] + (1 - o.beta1) * g
                secondMoment[k][i] = o.beta2 * secondMoment[k][i] + (1 - o.beta2) * g * g
                let mHat = firstMoment[k][i] / c1
                let vHat = secondMoment[k][i] / c2
                parameters[k][i] -= lr * mHat / (vHat.squareRoot() + o.epsilon)
            }
        }
    }
}
