import Foundation
import Testing
import _TestSupport

@testable import UNLab

@Suite("UNLab safetensors")
struct SafeTensorsTests {
    static let reference = PackagePaths.fixture("safetensors/reference.safetensors")

    static func referenceTensors() throws -> SafeTensors {
        SafeTensors(
            tensors: [
                "weight": try .init(shape: [2, 3], values: (0..<6).map { Double($0) / 8 - 0.25 }),
                "bias": try .init(shape: [3], values: [1.5, -2, 1e-300]),
                "scalar": try .init(shape: [], values: [Double.pi]),
                "empty": try .init(shape: [0, 4], values: []),
            ], metadata: ["format": "np", "note": "UNLab \"fixture\""])
    }

    /// The file Hugging Face's own implementation wrote: read back exactly, and written byte for byte.
    @Test("Reads the reference implementation's file; writes the same bytes")
    func referenceFile() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.reference))
        let read = try SafeTensors(bytes: bytes)
        let expected = try Self.referenceTensors()
        #expect(read == expected)
        #expect(try expected.serialized() == bytes)
    }

    @Test("Round trip: shapes, special values bit for bit, escaped names and metadata, files")
    func roundTrip() throws {
        let special: [Double] = [
            -0.0, .infinity, -.infinity, Double(nan: 0x1234, signaling: false), .leastNonzeroMagnitude,
        ]
        let original = SafeTensors(
            tensors: [
                "a\"b\\c\n\u{1}é": try .init(shape: [5], values: special),
                "big": try .init(shape: [3, 4, 5], values: (0..<60).map { Double($0).squareRoot() - 3 }),
                "one": try .init(shape: [1, 1], values: [42]),
            ], metadata: ["k\t": "v\u{0}π"])
        let bytes = try original.serialized()
        #expect(bytes.count % 8 == 0)  // header padded to a multiple of 8, data in 8-byte values
        #expect(try SafeTensors(bytes: bytes) == original)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "unlab-\(UInt64.random(in: 0...UInt64.max)).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try original.write(to: url)
        #expect(try SafeTensors(contentsOf: url) == original)
        #expect(throws: LabError.self) {
            try SafeTensors(tensors: ["__metadata__": .init(shape: [], values: [1])]).serialized()
        }
        #expect(throws: LabError.shapeMismatch(what: "tensor values", expected: [2, 2], actual: [3])) {
            try SafeTensors.Tensor(shape: [2, 2], values: [1, 2, 3])
        }
        #expect(throws: LabError.self) { try SafeTensors.Tensor(shape: [-1], values: []) }
        #expect(throws: LabError.self) { try SafeTensors.Tensor(shape: [Int.max, 4], values: []) }
    }

    /// A file of `header` (as JSON text, padded by nothing) and `data` bytes.
    static func file(_ header: String, data: Int = 0, length: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
        return out + h + [UInt8](repeating: 0, count: data)
    }

    @Test("Malformed files are rejected with typed errors naming the rule")
    func malformed() throws {
        func rejects(_ bytes: [UInt8], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                _ = try SafeTensors(bytes: bytes, name: "t")
                Issue.record("accepted a malformed file (\(fragment))", sourceLocation: sourceLocation)
            } catch let LabError.malformedData(file, reason) {
                #expect(file == "t" && reason.contains(fragment), "\(reason)", sourceLocation: sourceLocation)
            } catch { Issue.record("unexpected error \(error)", sourceLocation: sourceLocation) }
        }
        let ok = #"{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#
        #expect(try SafeTensors(bytes: Self.file(ok, data: 16)).tensors["x"]?.shape == [2])
        rejects([1, 2, 3], "shorter than the 8-byte")
        rejects(Self.file(ok, data: 16, length: 1 << 40), "exceeds 100000000")
        rejects(Self.file(ok, data: 16, length: 200), "exceeds the")
        rejects(Self.file(" " + ok, data: 16), "does not start with '{'")
        rejects(Self.file(#"{"x":{"dtype":"F64","shape":[2]"#, data: 16), "not the documented JSON")
        rejects(Self.file(#"{"x":{"dtype":"F64","shape":[2.5],"data_offsets":[0,16]}}"#, data: 16), "JSON")
        rejects(Self.file(#"{"x":{"dtype":"F64","shape":[2]}}"#, data: 16), "JSON")
        rejects(Self.file(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: 8), "only F64")
        rejects(Self.file(#"{"x":{"dtype":"F64","shape":[-2],"data_offsets":[0,16]}}"#, data: 16), "has shape")
        rejects(Self.file(#"{"x":{"dtype":"F64","shape":[2],"data_offsets":[0]}}"#, data: 16), "data_offsets")
        rejects(Self.file(#"{"x":{"dtype":"F64","shape":[2],"data_offsets":[16,0]}}"#, data: 16), "data_offsets")
        rejects(Self.file(#"{"x":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}}"#, data: 16), "needs 8 × 3")
        rejects(
            Self.file(#"{"x":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,16]}}"#, data: 16), "needs")
        rejects(Self.file(#"{"x":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}"#, data: 24), "expected 0")
        let overlap =
            #"{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"#
            + #""y":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}"#
        rejects(Self.file(overlap, data: 16), "overlap or gap")
        rejects(Self.file(ok, data: 24), "cover 16 of 24")
        rejects(Self.file(ok, data: 8), "cover 16 of 8")
        rejects(Self.file(#"{"__metadata__":{"a":1}}"#), "JSON")
        #expect(throws: LabError.self) { try SafeTensors(contentsOf: URL(fileURLWithPath: "/nonexistent.safetensors")) }
    }
}
