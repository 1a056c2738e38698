import Interchange

/// The names and shapes under which a model's parameters are exchanged (with PyTorch, through
/// safetensors): one F64 tensor per entry of the model's `parameters`, in that order.
///
/// The scheme (`d` = width, `i` = block index from 0, every shape row-major):
///
/// | name | shape |
/// |---|---|
/// | `blocks.i.norm1.weight`, `blocks.i.norm1.bias` | `[d]` |
/// | `blocks.i.attention.{query,key,value,output}.weight` | `[d, d]` |
/// | `blocks.i.attention.{query,key,value,output}.bias` | `[d]` |
/// | `blocks.i.norm2.weight`, `blocks.i.norm2.bias` | `[d]` |
/// | `blocks.i.mlp.up.weight`, `blocks.i.mlp.up.bias` | `[d, 4d]`, `[4d]` |
/// | `blocks.i.mlp.down.weight`, `blocks.i.mlp.down.bias` | `[4d, d]`, `[d]` |
/// | `final_norm.weight`, `final_norm.bias` | `[d]` |
/// | ViT: `patch_embedding.weight`, `patch_embedding.bias` | `[4, d]`, `[d]` |
/// | ViT: `class_token`, `positions` | `[d]`, `[17, d]` |
/// | language model: `embedding`, `positions` | `[vocabulary, d]`, `[contextLength, d]` |
/// | `head.weight`, `head.bias` | `[d, outputs]`, `[outputs]` |
///
/// A ``Dense`` weight is stored as the lab holds it, `inputs × outputs` (`Y = X·W + b`): the
/// transpose of the `out × in` weight of PyTorch's `nn.Linear`, so a port computes `x @ W + b`.
public struct ParameterName: Sendable, Equatable {
    public let name: String
    public let shape: [Int]

    public init(_ name: String, _ shape: [Int]) {
        self.name = name
        self.shape = shape
    }

    /// The names of a ``TransformerEncoder`` of `blocks` blocks of width `d`, in the order of its `parameters`.
    public static func encoder(blocks: Int, width d: Int) -> [ParameterName] {
        var names: [ParameterName] = []
        for i in 0..<blocks {
            let p = "blocks.\(i)."
            names += [.init(p + "norm1.weight", [d]), .init(p + "norm1.bias", [d])]
            for part in ["query", "key", "value", "output"] {
                names += [.init(p + "attention.\(part).weight", [d, d]), .init(p + "attention.\(part).bias", [d])]
            }
            names += [.init(p + "norm2.weight", [d]), .init(p + "norm2.bias", [d])]
            names += [.init(p + "mlp.up.weight", [d, 4 * d]), .init(p + "mlp.up.bias", [4 * d])]
            names += [.init(p + "mlp.down.weight", [4 * d, d]), .init(p + "mlp.down.bias", [d])]
        }
        return names + [.init("final_norm.weight", [d]), .init("final_norm.bias", [d])]
    }

    /// The tensors as a safetensors file (F64, one per name).
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` unless `tensors` match `names` in
    ///   count and sizes; ``SafetensorsError`` from the codec.
    public static func file(
        _ tensors: [[Double]], names: [ParameterName], metadata: [String: String] = [:]
    ) throws -> SafetensorsFile {
        guard tensors.count == names.count else {
            throw LabError.shapeMismatch(what: "named tensors", expected: [names.count], actual: [tensors.count])
        }
        var out = SafetensorsFile(metadata: metadata)
        for (t, n) in zip(tensors, names) {
            try requireCount(t, n.shape.reduce(1, *), n.name)
            out.tensors[n.name] = try SafeTensor(float64: t, shape: n.shape)
        }
        return out
    }

    /// The tensors called `names` in `file`, in that order, as `Double` (F64, or F32 widened).
    /// - Parameter extra: the other tensor names the file may hold (anything else is an error, so a
    ///   file of another model is never half read).
    /// - Throws: ``SafetensorsError/missingTensor(name:)``; ``LabError/malformedData(file:reason:)``
    ///   for a shape other than the scheme's, a non-float dtype, an unexpected tensor;
    ///   ``LabError/nonFinite(what:index:)`` for a NaN or infinity.
    public static func tensors(
        in file: SafetensorsFile, names: [ParameterName], extra: Set<String> = [], fileName: String = "parameters"
    ) throws -> [[Double]] {
        let expected = Set(names.map(\.name))
        if let stray = file.tensors.keys.sorted().first(where: { !expected.contains($0) && !extra.contains($0) }) {
            throw LabError.malformedData(file: fileName, reason: "unexpected tensor \"\(stray)\"")
        }
        return try names.map { n in
            let t = try file.tensor(n.name)
            guard t.shape == n.shape else {
                throw LabError.malformedData(
                    file: fileName, reason: "\(n.name) has shape \(t.shape), expected \(n.shape)")
            }
            let values: [Double]
            do { values = try t.float64() } catch {
                throw LabError.malformedData(file: fileName, reason: "\(n.name) is \(t.dtype.rawValue), not a float")
            }
            try requireFinite(values, n.name)
            return values
        }
    }
}

extension VisionTransformer {
    /// The names and shapes of ``parameters`` (scheme: ``ParameterName``).
    public var parameterNames: [ParameterName] {
        let d = width
        return [
            .init("patch_embedding.weight", [Self.patchSide * Self.patchSide, d]),
            .init("patch_embedding.bias", [d]), .init("class_token", [d]), .init("positions", [Self.tokens, d]),
        ] + ParameterName.encoder(blocks: encoder.blocks.count, width: d)
            + [.init("head.weight", [d, classes]), .init("head.bias", [classes])]
    }

    /// The parameters as a safetensors file.
    /// - Throws: ``SafetensorsError`` from the codec.
    public func parameterFile(metadata: [String: String] = [:]) throws -> SafetensorsFile {
        try ParameterName.file(parameters, names: parameterNames, metadata: metadata)
    }

    /// Replaces the parameters by those of `file` (all of them, nothing else but `extra`).
    /// - Throws: as ``ParameterName/tensors(in:names:extra:fileName:)``.
    public mutating func loadParameters(from file: SafetensorsFile, extra: Set<String> = []) throws {
        try setParameters(ParameterName.tensors(in: file, names: parameterNames, extra: extra))
    }
}

extension ByteLanguageModel {
    /// The names and shapes of ``parameters`` (scheme: ``ParameterName``).
    public var parameterNames: [ParameterName] {
        let d = width
        return [.init("embedding", [vocabulary, d]), .init("positions", [contextLength, d])]
            + ParameterName.encoder(blocks: encoder.blocks.count, width: d)
            + [.init("head.weight", [d, vocabulary]), .init("head.bias", [vocabulary])]
    }

    /// The parameters as a safetensors file.
    /// - Throws: ``SafetensorsError`` from the codec.
    public func parameterFile(metadata: [String: String] = [:]) throws -> SafetensorsFile {
        try ParameterName.file(parameters, names: parameterNames, metadata: metadata)
    }

    /// Replaces the parameters by those of `file` (all of them, nothing else but `extra`).
    /// - Throws: as ``ParameterName/tensors(in:names:extra:fileName:)``.
    public mutating func loadParameters(from file: SafetensorsFile, extra: Set<String> = []) throws {
        try setParameters(ParameterName.tensors(in: file, names: parameterNames, extra: extra))
    }
}
