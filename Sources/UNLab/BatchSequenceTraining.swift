import UnifiedNormalization

/// Training on a given sequence of batches, one ``AdamW`` step per batch, from fresh moments (as
/// a PyTorch loop `for batch: loss = f(batch); loss.backward(); opt.step()` does), so that a run can
/// be replayed elsewhere on the very same batches (the PyTorch interchange).
public enum BatchSequenceTraining {
    /// - Returns: each step's mean cross-entropy, measured before that step's update.
    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for no batch; any
    ///   error of the model or the optimizer.
    public static func train<Norm>(
        _ model: inout VisionTransformer<Norm>, on batches: [ImageBatch], options: AdamW.Options
    ) throws -> [Double] {
        try run(&model, batches, options) { m, b in try m.lossAndGradient(images: b.images, labels: b.labels) }
    }

    /// - Returns: each step's mean next-token cross-entropy over the real positions, before its update.
    /// - Throws: as the image overload.
    public static func train<Norm>(
        _ model: inout ByteLanguageModel<Norm>, on batches: [LanguageBatch], options: AdamW.Options
    ) throws -> [Double] {
        try run(&model, batches, options) { m, b in try m.lossAndGradient(b) }
    }

    static func run<Model: TrainableLabModel, Batch>(
        _ model: inout Model, _ batches: [Batch], _ options: AdamW.Options,
        _ step: (inout Model, Batch) throws -> (loss: Double, gradient: [[Double]])
    ) throws -> [Double] {
        try requirePositive(batches.count, "batches", atMost: Int.max)
        var optimizer = AdamW(options: options, like: model.parameters)
        var losses: [Double] = []
        losses.reserveCapacity(batches.count)
        for b in batches {
            let (loss, gradient) = try step(&model, b)
            var p = model.parameters
            try optimizer.update(&p, gradient: gradient)
            try model.setParameters(p)
            losses.append(loss)
        }
        return losses
    }
}

/// What ``BatchSequenceTraining`` needs of a model: its tensors, read and replaced.
protocol TrainableLabModel {
    var parameters: [[Double]] { get }
    mutating func setParameters(_ p: [[Double]]) throws
}

extension VisionTransformer: TrainableLabModel {}
extension ByteLanguageModel: TrainableLabModel {}
