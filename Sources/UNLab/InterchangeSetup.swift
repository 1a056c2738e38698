import UnifiedNormalization

/// Everything a port needs to rebuild a lab run besides the weights and the batches: the model's
/// sizes, both norms' options and the optimizer's. Stored as the string metadata of the
/// initial-weights file (numbers in Swift's shortest round-trip form, which Python's `float`
/// and `int` read back exactly), under these keys:
///
/// `task` (`digits` or `language`), `width`, `heads`, `layers`, `outputs` (classes or vocabulary),
/// `context_length` (language model positions; 17 for the ViT), `layer_norm.eps`, `un.window`,
/// `un.backward_window`, `un.warmup`, `un.filtration` (`true`/`false`), `un.eps`, `un.momentum`
/// (UN is the reference-compatible mode, the authors' `UN1d`), `adamw.peak`,
/// `adamw.warmup_steps`, `adamw.beta1`, `adamw.beta2`, `adamw.epsilon`, `adamw.weight_decay`.
public struct InterchangeSetup: Sendable, Equatable {
    public enum Task: String, Sendable, CaseIterable { case digits, language }

    public var task: Task
    public var width: Int
    public var heads: Int
    public var layers: Int
    /// Classes (digits) or vocabulary size (language).
    public var outputs: Int
    /// Positions of the language model (the ViT always has 17).
    public var contextLength: Int
    public var layerNormEps: Double
    /// UN's options (`channels` is the width).
    public var unifiedNorm: UnifiedNormConfiguration
    public var optimizer: AdamW.Options

    public init(
        task: Task, width: Int, heads: Int, layers: Int, outputs: Int, contextLength: Int,
        layerNormEps: Double = 1e-5, unifiedNorm: UnifiedNormConfiguration, optimizer: AdamW.Options
    ) {
        self.task = task
        self.width = width
        self.heads = heads
        self.layers = layers
        self.outputs = outputs
        self.contextLength = task == .digits ? VisionTransformer<LayerNorm<Double>>.tokens : contextLength
        self.layerNormEps = layerNormEps
        self.unifiedNorm = unifiedNorm
        self.unifiedNorm.channels = width
        self.optimizer = optimizer
    }

    /// The metadata keys and values (see the type's documentation).
    public var metadata: [String: String] {
        let u = unifiedNorm
        let o = optimizer
        return [
            "task": task.rawValue, "width": "\(width)", "heads": "\(heads)", "layers": "\(layers)",
            "outputs": "\(outputs)", "context_length": "\(contextLength)", "layer_norm.eps": "\(layerNormEps)",
            "un.window": "\(u.forwardWindow)", "un.backward_window": "\(u.backwardWindow)",
            "un.warmup": "\(u.warmupIters)", "un.filtration": "\(u.outlierFiltration)", "un.eps": "\(u.eps)",
            "un.momentum": "\(u.momentum)", "adamw.peak": "\(o.schedule.peak)",
            "adamw.warmup_steps": "\(o.schedule.warmupSteps)", "adamw.beta1": "\(o.beta1)",
            "adamw.beta2": "\(o.beta2)", "adamw.epsilon": "\(o.epsilon)", "adamw.weight_decay": "\(o.weightDecay)",
        ]
    }

    /// Reads a setup from metadata (other keys are ignored).
    /// - Throws: ``LabError/malformedData(file:reason:)`` for a missing or unreadable key;
    ///   ``LabError/invalidConfiguration(parameter:value:requirement:)`` for an optimizer option out of range.
    public init(metadata m: [String: String], fileName: String = "metadata") throws {
        func string(_ k: String) throws -> String {
            guard let v = m[k] else {
                throw LabError.malformedData(file: fileName, reason: "metadata \"\(k)\" missing")
            }
            return v
        }
        func int(_ k: String) throws -> Int {
            guard let v = Int(try string(k)) else {
                throw LabError.malformedData(file: fileName, reason: "metadata \"\(k)\" is not an integer")
            }
            return v
        }
        func real(_ k: String) throws -> Double {
            guard let v = Double(try string(k)), v.isFinite else {
                throw LabError.malformedData(file: fileName, reason: "metadata \"\(k)\" is not a finite number")
            }
            return v
        }
        guard let task = Task(rawValue: try string("task")) else {
            throw LabError.malformedData(file: fileName, reason: "metadata \"task\" is not digits or language")
        }
        guard let filtration = Bool(try string("un.filtration")) else {
            throw LabError.malformedData(file: fileName, reason: "metadata \"un.filtration\" is not true or false")
        }
        let width = try int("width")
        let un = UnifiedNormConfiguration(
            channels: width, forwardWindow: try int("un.window"), backwardWindow: try int("un.backward_window"),
            warmupIters: try int("un.warmup"), outlierFiltration: filtration, eps: try real("un.eps"),
            momentum: try real("un.momentum"))
        let options = try AdamW.Options(
            beta1: try real("adamw.beta1"), beta2: try real("adamw.beta2"), epsilon: try real("adamw.epsilon"),
            weightDecay: try real("adamw.weight_decay"),
            schedule: LearningRateSchedule(peak: try real("adamw.peak"), warmupSteps: try int("adamw.warmup_steps")))
        self.init(
            task: task, width: width, heads: try int("heads"), layers: try int("layers"), outputs: try int("outputs"),
            contextLength: try int("context_length"), layerNormEps: try real("layer_norm.eps"), unifiedNorm: un,
            optimizer: options)
    }

    /// A LayerNorm of `channels` with this setup's ε.
    /// - Throws: ``NormalizationError`` for a bad size or ε.
    public func layerNorm(_ channels: Int) throws -> LayerNorm<Double> {
        try LayerNorm<Double>(channels: channels, eps: layerNormEps)
    }

    /// The reference-compatible UN (the authors' `UN1d`) of `channels` with this setup's options.
    /// - Throws: ``NormalizationError`` for an invalid configuration.
    public func unifiedNorm(_ channels: Int) throws -> UnifiedNorm<Double> {
        var c = unifiedNorm
        c.channels = channels
        return try UnifiedNorm<Double>(configuration: c, mode: .referenceCompatible)
    }

    /// The ViT of this setup, its weights drawn from `seed` (replace them with
    /// ``VisionTransformer/loadParameters(from:extra:)``).
    /// - Throws: ``LabError`` for a bad size or a norm's error.
    public func visionTransformer<Norm>(makeNorm: (Int) throws -> Norm, seed: UInt64 = 0) throws
        -> VisionTransformer<Norm>
    {
        var rng = LabRandom(seed: seed)
        return try VisionTransformer(
            classes: outputs, width: width, heads: heads, layers: layers, makeNorm: makeNorm, using: &rng)
    }

    /// The language model of this setup, its weights drawn from `seed`.
    /// - Throws: ``LabError`` for a bad size or a norm's error.
    public func languageModel<Norm>(makeNorm: (Int) throws -> Norm, seed: UInt64 = 0) throws
        -> ByteLanguageModel<Norm>
    {
        var rng = LabRandom(seed: seed)
        return try ByteLanguageModel(
            vocabulary: outputs, contextLength: contextLength, width: width, heads: heads, layers: layers,
            makeNorm: makeNorm, using: &rng)
    }
}
