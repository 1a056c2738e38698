import Interchange

/// One batch of images for the ``VisionTransformer``: `batch × 64` pixels (row-major, `[0, 1]`)
/// and `batch` labels.
public struct ImageBatch: Sendable, Equatable {
    public let images: [Double]
    public let labels: [Int]
    public var batch: Int { labels.count }

    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` unless `images` has
    ///   `labels.count × 64` entries; ``LabError/nonFinite(what:index:)``;
    ///   ``LabError/invalidConfiguration(parameter:value:requirement:)`` for no labels.
    public init(images: [Double], labels: [Int]) throws {
        try requirePositive(labels.count, "labels")
        try requireCount(images, labels.count * DigitsDataset.pixels, "images")
        try requireFinite(images, "images")
        self.images = images
        self.labels = labels
    }
}

/// A sequence of training batches as safetensors, one group of tensors per step `k = 0, 1, …`:
///
/// - images: `batches.k.images` (`[B, 64]`, F32 where every pixel is exactly a `Float` — the
///   digits' `p/16` are — else F64) and `batches.k.labels` (`[B]`, I64);
/// - language: `batches.k.inputs`, `batches.k.targets` (`[B, T]`, U8: the lab's vocabularies
///   have at most 256 ids) and `batches.k.pad_mask` (`[B, T]`, BOOL, `true` = padded), exactly
///   the arrays of a right-padded ``LanguageBatch``.
///
/// Metadata `steps` holds the number of steps.
public enum BatchTensors {
    static func name(_ k: Int, _ part: String) -> String { "batches.\(k).\(part)" }

    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for no batch;
    ///   ``SafetensorsError`` from the codec.
    public static func file(_ batches: [ImageBatch], metadata: [String: String] = [:]) throws -> SafetensorsFile {
        try requirePositive(batches.count, "batches")
        var out = SafetensorsFile(metadata: metadata.merging(["steps": "\(batches.count)"]) { $1 })
        for (k, b) in batches.enumerated() {
            let shape = [b.batch, DigitsDataset.pixels]
            let narrow = b.images.map { Float($0) }
            let exact = zip(narrow, b.images).allSatisfy { Double($0) == $1 }
            out.tensors[name(k, "images")] =
                try exact ? SafeTensor(float32: narrow, shape: shape) : SafeTensor(float64: b.images, shape: shape)
            out.tensors[name(k, "labels")] = try SafeTensor(int64: b.labels.map(Int64.init), shape: [b.batch])
        }
        return out
    }

    /// - Throws: ``LabError/invalidConfiguration(parameter:value:requirement:)`` for no batch or a
    ///   token id outside `0...255`; ``SafetensorsError`` from the codec.
    public static func file(_ batches: [LanguageBatch], metadata: [String: String] = [:]) throws -> SafetensorsFile {
        try requirePositive(batches.count, "batches")
        var out = SafetensorsFile(metadata: metadata.merging(["steps": "\(batches.count)"]) { $1 })
        for (k, b) in batches.enumerated() {
            let shape = [b.batch, b.tokens]
            for (part, ids) in [("inputs", b.inputs), ("targets", b.targets)] {
                guard ids.allSatisfy({ (0...255).contains($0) }) else {
                    throw LabError.invalidConfiguration(
                        parameter: "batch \(k) \(part)", value: "id > 255", requirement: "ids must fit in U8")
                }
                out.tensors[name(k, part)] = try SafeTensor(dtype: .uint8, shape: shape, bytes: ids.map { UInt8($0) })
            }
            out.tensors[name(k, "pad_mask")] = try SafeTensor(
                dtype: .bool, shape: shape, bytes: b.padMask.map { $0 ? 1 : 0 })
        }
        return out
    }

    /// The image batches of `file`.
    /// - Throws: ``LabError/malformedData(file:reason:)`` for a missing or wrong `steps`, a tensor
    ///   of the wrong shape or dtype, a label outside `0...9`, an unexpected tensor;
    ///   ``SafetensorsError/missingTensor(name:)``; errors of ``ImageBatch/init(images:labels:)``.
    public static func imageBatches(in file: SafetensorsFile, fileName: String = "batches") throws -> [ImageBatch] {
        let steps = try stepCount(file, parts: 2, fileName)
        return try (0..<steps).map { k in
            let im = try file.tensor(name(k, "images"))
            let lb = try file.tensor(name(k, "labels"))
            guard im.shape.count == 2, im.shape[1] == DigitsDataset.pixels, lb.shape == [im.shape[0]] else {
                throw LabError.malformedData(
                    file: fileName, reason: "batch \(k): images \(im.shape), labels \(lb.shape); expected [B, 64], [B]")
            }
            let labels = try ints(lb, name(k, "labels"), fileName)
            if let i = labels.firstIndex(where: { !(0...9).contains($0) }) {
                throw LabError.malformedData(file: fileName, reason: "batch \(k): label \(i) is \(labels[i])")
            }
            let images: [Double]
            do { images = try im.float64() } catch {
                throw LabError.malformedData(file: fileName, reason: "batch \(k): images are \(im.dtype.rawValue)")
            }
            return try ImageBatch(images: images, labels: labels)
        }
    }

    /// The language batches of `file`; each must be exactly what ``LanguageBatch/init(sequences:)``
    /// makes of its sequences (real positions a prefix of each row, every target the next input).
    /// - Throws: ``LabError/malformedData(file:reason:)`` as ``imageBatches(in:fileName:)``, and for
    ///   a batch that is not a right-padded next-token batch; ``SafetensorsError/missingTensor(name:)``.
    public static func languageBatches(in file: SafetensorsFile, fileName: String = "batches") throws
        -> [LanguageBatch]
    {
        let steps = try stepCount(file, parts: 3, fileName)
        return try (0..<steps).map { k in
            func bad(_ reason: String) -> LabError { .malformedData(file: fileName, reason: "batch \(k): \(reason)") }
            let ti = try file.tensor(name(k, "inputs"))
            let tt = try file.tensor(name(k, "targets"))
            let tp = try file.tensor(name(k, "pad_mask"))
            guard ti.shape.count == 2, tt.shape == ti.shape, tp.shape == ti.shape, ti.shape[0] >= 1 else {
                throw bad("inputs \(ti.shape), targets \(tt.shape), pad_mask \(tp.shape); expected equal [B, T]")
            }
            let inputs = try ints(ti, name(k, "inputs"), fileName)
            let targets = try ints(tt, name(k, "targets"), fileName)
            let pad: [Bool]
            do { pad = try tp.bool() } catch { throw bad("pad_mask is not a BOOL tensor of 0/1 bytes") }
            let (b, t) = (ti.shape[0], ti.shape[1])
            let sequences = try (0..<b).map { r -> [Int] in
                let row = pad[(r * t)..<((r + 1) * t)]
                let n = row.prefix { !$0 }.count
                guard n >= 1 else { throw bad("row \(r) has no real position") }
                return Array(inputs[(r * t)..<(r * t + n)]) + [targets[r * t + n - 1]]
            }
            let rebuilt = try LanguageBatch(sequences: sequences)
            guard rebuilt.inputs == inputs, rebuilt.targets == targets, rebuilt.padMask == pad else {
                throw bad("not a right-padded next-token batch (padding, targets or T disagree with its sequences)")
            }
            return rebuilt
        }
    }

    static func stepCount(_ file: SafetensorsFile, parts: Int, _ fileName: String) throws -> Int {
        guard let s = file.metadata["steps"], let steps = Int(s), steps >= 1 else {
            throw LabError.malformedData(file: fileName, reason: "metadata \"steps\" missing or not a positive integer")
        }
        guard file.tensors.count == steps * parts else {
            throw LabError.malformedData(
                file: fileName, reason: "\(file.tensors.count) tensors for \(steps) steps of \(parts)")
        }
        return steps
    }

    static func ints(_ t: SafeTensor, _ what: String, _ fileName: String) throws -> [Int] {
        do { return try t.int64().map { Int($0) } } catch {
            throw LabError.malformedData(file: fileName, reason: "\(what) is \(t.dtype.rawValue), not an integer")
        }
    }
}
