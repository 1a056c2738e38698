import UnifiedNormalization

/// Training a ``VisionTransformer`` on a ``DigitsDataset`` split with ``AdamW``: each epoch visits
/// the split in an order shuffled by the seed (`shuffled(using:)` on ``LabRandom``), in batches of
/// `batchSize` (the last, shorter batch of an epoch is dropped, so every step sees equal batches).
public enum DigitsTraining {
    /// Runs `steps` optimizer steps on `model`.
    /// - Returns: the mean cross-entropy of each step's batch, measured before that step's update.
    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for `steps < 1`
    ///   or a batch size outside `1...split.count`; any error of the model or the optimizer.
    public static func train<Norm>(
        _ model: inout VisionTransformer<Norm>, on split: DigitsDataset.Split, steps: Int, batchSize: Int,
        options: AdamW.Options, seed: UInt64
    ) throws -> [Double] {
        try requirePositive(steps, "steps")
        guard (1...max(split.count, 1)).contains(batchSize), split.count > 0 else {
            throw LabError.invalidConfiguration(
                parameter: "batchSize", value: "\(batchSize)", requirement: "must lie in 1...\(split.count)")
        }
        var rng = LabRandom(seed: seed)
        var optimizer = AdamW(options: options, like: model.parameters)
        var order: [Int] = []
        var losses: [Double] = []
        losses.reserveCapacity(steps)
        for _ in 0..<steps {
            if order.count < batchSize { order = Array(0..<split.count).shuffled(using: &rng) }
            let (images, labels) = try split.batch(Array(order.prefix(batchSize)))
            order.removeFirst(batchSize)
            let (loss, gradient) = try model.lossAndGradient(images: images, labels: labels)
            var p = model.parameters
            try optimizer.update(&p, gradient: gradient)
            try model.setParameters(p)
            losses.append(loss)
        }
        return losses
    }
}
