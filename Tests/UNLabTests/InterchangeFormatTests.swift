import Foundation
import Interchange
import Testing
import UnifiedNormalization

@testable import UNLab

/// The interchange's formats: parameters, batches and setups through safetensors and back, and
/// every malformed file refused with a typed error.
@Suite("UNLab interchange formats")
struct InterchangeFormatTests {
    static func setup() throws -> InterchangeSetup { try InterchangeFixtures.digitsSetup() }

    static func vit() throws -> VisionTransformer<LayerNorm<Double>> {
        let s = try setup()
        return try s.visionTransformer(makeNorm: s.layerNorm, seed: 3)
    }

    @Test("Parameter names: one per tensor, shapes that hold its entries, unique")
    func names() throws {
        let v = try Self.vit()
        var rng = LabRandom(seed: 1)
        let lm = try ByteLanguageModel<LayerNorm<Double>>(
            vocabulary: 30, contextLength: 12, width: 8, heads: 2, layers: 3, makeNorm: { try LayerNorm(channels: $0) },
            using: &rng)
        for (names, tensors) in [(v.parameterNames, v.parameters), (lm.parameterNames, lm.parameters)] {
            #expect(names.count == tensors.count)
            #expect(Set(names.map(\.name)).count == names.count)
            for (n, t) in zip(names, tensors) { #expect(n.shape.reduce(1, *) == t.count, "\(n.name)") }
        }
        #expect(v.parameterNames[4] == ParameterName("blocks.0.norm1.weight", [16]))
        #expect(v.parameterNames.contains(ParameterName("blocks.1.attention.query.weight", [16, 16])))
        #expect(lm.parameterNames.first == ParameterName("embedding", [30, 8]))
        #expect(lm.parameterNames.last == ParameterName("head.bias", [30]))
    }

    @Test("Parameters round-trip through safetensors bytes; another model's weights load")
    func parameterRoundTrip() throws {
        let a = try Self.vit()
        let bytes = try a.parameterFile(metadata: ["k": "v"]).serialized()
        var b = try Self.setup().visionTransformer(makeNorm: Self.setup().layerNorm, seed: 4)
        #expect(b.parameters != a.parameters)
        try b.loadParameters(from: SafetensorsFile(bytes: bytes))
        #expect(b.parameters == a.parameters)
    }

    @Test("Malformed parameter files are refused with typed errors")
    func malformedParameters() throws {
        var m = try Self.vit()
        let good = try m.parameterFile()
        var f = good
        f.tensors["blocks.0.norm1.weight"] = nil
        #expect(throws: SafetensorsError.missingTensor(name: "blocks.0.norm1.weight")) { try m.loadParameters(from: f) }
        f = good
        f.tensors["stray"] = try SafeTensor(float64: [1], shape: [1])
        #expect(throws: LabError.malformedData(file: "parameters", reason: "unexpected tensor \"stray\"")) {
            try m.loadParameters(from: f)
        }
        try m.loadParameters(from: f, extra: ["stray"])  // allowed when named
        f = good
        f.tensors["head.bias"] = try SafeTensor(float64: [Double](repeating: 0, count: 10), shape: [2, 5])
        #expect(throws: LabError.self) { try m.loadParameters(from: f) }
        f = good
        f.tensors["head.bias"] = try SafeTensor(int64: [Int64](repeating: 0, count: 10), shape: [10])
        #expect(throws: LabError.malformedData(file: "parameters", reason: "head.bias is I64, not a float")) {
            try m.loadParameters(from: f)
        }
        f = good
        f.tensors["head.bias"] = try SafeTensor(float64: [.nan] + [Double](repeating: 0, count: 9), shape: [10])
        #expect(throws: LabError.nonFinite(what: "head.bias", index: 0)) { try m.loadParameters(from: f) }
        #expect(try m.parameterFile() == good, "a refused file leaves the model as it was")
    }

    @Test("Image and language batches round-trip; digits pixels are stored exactly as F32")
    func batchRoundTrip() throws {
        let images = try [
            ImageBatch(images: (0..<128).map { Double($0 % 17) / 16 }, labels: [3, 9]),
            ImageBatch(images: (0..<64).map { Double($0) / 10 }, labels: [0]),
        ]
        let fi = try BatchTensors.file(images)
        #expect(fi.tensors["batches.0.images"]?.dtype == .float32)
        #expect(fi.tensors["batches.1.images"]?.dtype == .float64, "0.1 is no Float: kept as F64")
        #expect(try BatchTensors.imageBatches(in: SafetensorsFile(bytes: fi.serialized())) == images)
        let language = try [
            LanguageBatch(sequences: [[0, 5, 6, 0], [0, 7, 0]]), LanguageBatch(sequences: [[0, 255], [1, 2, 3]]),
        ]
        let fl = try BatchTensors.file(language)
        #expect(fl.tensors["batches.0.pad_mask"]?.dtype == .bool)
        #expect(try BatchTensors.languageBatches(in: SafetensorsFile(bytes: fl.serialized())) == language)
        #expect(throws: LabError.self) { try BatchTensors.file([LanguageBatch(sequences: [[0, 256]])]) }
    }

    @Test("Malformed batch files are refused with typed errors")
    func malformedBatches() throws {
        let good = try BatchTensors.file([LanguageBatch(sequences: [[0, 5, 6, 0], [0, 7, 0]])])
        func rejects(_ f: SafetensorsFile, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try BatchTensors.languageBatches(in: f)
                Issue.record("accepted (\(fragment))", sourceLocation: sourceLocation)
            } catch let LabError.malformedData(_, reason) {
                #expect(reason.contains(fragment), "\(reason)", sourceLocation: sourceLocation)
            } catch { Issue.record("unexpected \(error)", sourceLocation: sourceLocation) }
        }
        var f = good
        f.metadata["steps"] = nil
        rejects(f, "steps")
        f = good
        f.metadata["steps"] = "2"
        rejects(f, "tensors for 2 steps")
        // Row 1 = [0, 7, 0]: inputs [0, 7, ·], targets [7, 0, ·], pad [F, F, T].
        f = good
        f.tensors["batches.0.pad_mask"] = try SafeTensor(dtype: .bool, shape: [2, 3], bytes: [0, 0, 0, 0, 1, 0])
        rejects(f, "not a right-padded")
        f = good
        f.tensors["batches.0.targets"] = try SafeTensor(dtype: .uint8, shape: [2, 3], bytes: [5, 9, 0, 7, 0, 0])
        rejects(f, "not a right-padded")
        f = good
        f.tensors["batches.0.pad_mask"] = try SafeTensor(dtype: .uint8, shape: [2, 3], bytes: [0, 0, 0, 0, 0, 1])
        rejects(f, "BOOL")
        f = good
        f.tensors["batches.0.inputs"] = try SafeTensor(dtype: .uint8, shape: [3, 2], bytes: [0, 0, 0, 0, 0, 0])
        rejects(f, "expected equal")
        let img = try BatchTensors.file([ImageBatch(images: [Double](repeating: 0, count: 64), labels: [1])])
        var g = img
        g.tensors["batches.0.labels"] = try SafeTensor(int64: [10], shape: [1])
        #expect(throws: LabError.malformedData(file: "batches", reason: "batch 0: label 0 is 10")) {
            try BatchTensors.imageBatches(in: g)
        }
        g = img
        g.tensors["batches.0.images"] = try SafeTensor(float64: [Double](repeating: 0, count: 32), shape: [1, 32])
        #expect(throws: LabError.self) { try BatchTensors.imageBatches(in: g) }
    }

    @Test("A setup round-trips through metadata; a missing or bad key is a typed error")
    func setupMetadata() throws {
        let s = try Self.setup()
        #expect(try InterchangeSetup(metadata: s.metadata) == s)
        var m = s.metadata
        m["un.warmup"] = nil
        #expect(throws: LabError.malformedData(file: "metadata", reason: "metadata \"un.warmup\" missing")) {
            try InterchangeSetup(metadata: m)
        }
        m = s.metadata
        m["un.filtration"] = "yes"
        #expect(throws: LabError.self) { try InterchangeSetup(metadata: m) }
        m = s.metadata
        m["adamw.beta1"] = "1.5"
        #expect(throws: LabError.self) { try InterchangeSetup(metadata: m) }
        m = s.metadata
        m["un.eps"] = "inf"
        #expect(throws: LabError.self) { try InterchangeSetup(metadata: m) }
    }

    @Test("Training on a batch sequence is the optimizer loop, step by step")
    func batchSequenceTraining() throws {
        let s = try Self.setup()
        var a = try s.visionTransformer(makeNorm: s.layerNorm, seed: 5)
        var b = a
        var rng = LabRandom(seed: 6)
        let batches = try (0..<3).map { _ in
            try ImageBatch(images: (0..<128).map { _ in rng.uniform(0, 1) }, labels: [1, 7])
        }
        let losses = try BatchSequenceTraining.train(&a, on: batches, options: s.optimizer)
        var opt = AdamW(options: s.optimizer, like: b.parameters)
        var manual: [Double] = []
        for x in batches {
            let (l, g) = try b.lossAndGradient(images: x.images, labels: x.labels)
            var p = b.parameters
            try opt.update(&p, gradient: g)
            try b.setParameters(p)
            manual.append(l)
        }
        #expect(losses == manual)
        #expect(a.parameters == b.parameters)
        #expect(throws: LabError.self) { try BatchSequenceTraining.train(&a, on: [ImageBatch](), options: s.optimizer) }
    }
}
