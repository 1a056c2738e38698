/// The order in which training visits a data set, shared by every task: each epoch visits the
/// samples in an order shuffled by the seed (`shuffled(using:)` on ``LabRandom``), in batches of
/// `batchSize`; the last, shorter batch of an epoch is dropped, so every step sees a full batch.
/// This is ``DigitsTraining``'s order.
public enum BatchOrder {
    /// The sample indices of each of `steps` batches.
    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for `steps < 1`,
    ///   no samples, or a batch size outside `1...count`.
    public static func indices(count: Int, batchSize: Int, steps: Int, seed: UInt64) throws -> [[Int]] {
        try requirePositive(steps, "steps")
        try requirePositive(count, "samples", atMost: Int.max)
        guard (1...count).contains(batchSize) else {
            throw LabError.invalidConfiguration(
                parameter: "batchSize", value: "\(batchSize)", requirement: "must lie in 1...\(count)")
        }
        var rng = LabRandom(seed: seed)
        var order: [Int] = []
        var out: [[Int]] = []
        for _ in 0..<steps {
            if order.count < batchSize { order = Array(0..<count).shuffled(using: &rng) }
            out.append(Array(order.prefix(batchSize)))
            order.removeFirst(batchSize)
        }
        return out
    }

    /// `steps` image batches of a digits split.
    /// - Throws: as ``indices(count:batchSize:steps:seed:)``.
    public static func digits(_ split: DigitsDataset.Split, batchSize: Int, steps: Int, seed: UInt64) throws
        -> [ImageBatch]
    {
        try indices(count: split.count, batchSize: batchSize, steps: steps, seed: seed).map {
            let (images, labels) = try split.batch($0)
            return try ImageBatch(images: images, labels: labels)
        }
    }

    /// `steps` right-padded batches of token sequences (each of at least 2 ids).
    /// - Throws: as ``indices(count:batchSize:steps:seed:)`` and ``LanguageBatch/init(sequences:)``.
    public static func language(_ sequences: [[Int]], batchSize: Int, steps: Int, seed: UInt64) throws
        -> [LanguageBatch]
    {
        try indices(count: sequences.count, batchSize: batchSize, steps: steps, seed: seed).map {
            try LanguageBatch(sequences: $0.map { sequences[$0] })
        }
    }
}
