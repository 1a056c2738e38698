import Foundation
import Interchange
import Testing
import _TestSupport

@testable import UNVerification

/// Hostile traces: the issue's examples with their typed errors, and every input the fuzzer
/// (scripts/fuzz-trace.sh) has kept in Tests/Fixtures/fuzz/regressions, replayed: each must end in
/// a result or a typed error (a trap would end the test process).
@Suite("Trace reader: hostile input and fuzz regressions")
struct FuzzRegressionTests {
    static let fuzzRoot = PackagePaths.fixture("fuzz")
    static let dir = fuzzRoot.appendingPathComponent("regressions")

    func malformedField(_ name: String) throws -> String? {
        do {
            _ = try UNTrace.load(path: Self.dir.appendingPathComponent(name).path)
            return nil
        } catch let TraceError.malformed(_, field, _) {
            return field
        }
    }

    @Test func examplesGiveTypedErrors() throws {
        #expect(try malformedField("fpwindow-2pow62.json") == "config.fpWindow")
        #expect(try malformedField("eval-only-fpwindow-1e9.json") == "config.fpWindow")
        let dup = try malformedField("duplicate-eps.json")
        #expect(dup == "config", "\(dup ?? "nil")")
        #expect(try malformedField("shape-overflow.json") == "shape")
        // Probe campaign: one spelling with a JSON escape ("ep\u0073" is "eps") slipped past.
        #expect(try malformedField("duplicate-escaped-eps.json") == "config")
        #expect(try malformedField("duplicate-escaped-name.json") == "(document)")
    }

    @Test func everyRegressionInputEndsCleanly() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.dir.path).sorted()
        #expect(files.count >= 4)
        for f in files {
            let data = try Data(contentsOf: Self.dir.appendingPathComponent(f))
            if let t = try? UNTrace.decode(data, path: f) { _ = try? TraceReplay.replay(t) }
        }
    }

    /// Generated: duplicate keys anywhere (top level, nested objects, inside steps) are found and
    /// named; the same documents without the duplicate decode.
    @Test func duplicateKeysAnywhereAreRejected() throws {
        let url: URL = Self.fuzzRoot.appendingPathComponent("corpus/warmup-3-steps.json")
        let base = try String(contentsOf: url, encoding: .utf8)
        _ = try UNTrace.decode(Data(base.utf8), path: "base")
        var tried = 0
        for key in ["\"name\"", "\"channels\"", "\"momentum\"", "\"weight\"", "\"mode\"", "\"y\"", "\"iters\""] {
            guard let r = base.range(of: key + ": ") else { continue }
            // Duplicate the key with a different value right after its first occurrence's value.
            let rest = base[r.upperBound...]
            guard let end = rest.firstIndex(where: { $0 == "," || $0 == "}" }) else { continue }
            let value = String(rest[..<end])
            let replacement: String = key + ": " + value + ", " + key + ": " + value
            let doc: String = base.replacingCharacters(in: r.lowerBound..<end, with: replacement)
            tried += 1
            #expect(throws: TraceError.self, "duplicate \(key)") { _ = try UNTrace.decode(Data(doc.utf8), path: "dup") }
        }
        #expect(tried >= 5)
        // A key repeated in *different* objects is not a duplicate.
        #expect(
            JSONDuplicateKeys.first(in: Data(#"{"a": {"k": 1}, "b": {"k": 2}, "c": [{"k": 1}, {"k": 2}]}"#.utf8)) == nil
        )
        #expect(JSONDuplicateKeys.first(in: Data(#"{"a": {"k": 1, "k\"": 2, "k": 3}}"#.utf8))?.key == "k")
    }
}
