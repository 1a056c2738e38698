import Foundation
import Testing
import _TestSupport

@testable import UNVerification

let fixtureTraces = PackagePaths.fixture("traces")
/// `../shared/traces` beside the package root, when present.
let sharedTraces = PackagePaths.shared.appendingPathComponent("traces")

let traceNames = ["warmup-basic", "windowed-smoothing", "outlier-filtration", "padding", "long-gradient-compensation"]

@Suite("Replay of the authors' traces")
struct TraceReplayTests {
    @Test(arguments: traceNames)
    func fixtureTraceReplays(_ name: String) throws {
        let r = try TraceReplay.replay(UNTrace.load(path: fixtureTraces.appendingPathComponent(name + ".json").path))
        #expect(
            r.withinTolerance,
            "\(name): first divergence at step \(r.firstDivergentStep ?? -1) in \(r.firstDivergentQuantity ?? "")")
        // Every quantity was compared at every step it exists in.
        #expect(r.quantities.count == TraceReplay.quantities.count)
    }

    /// The copies in the repo are the shared ground truth, byte for byte (when shared/ is there).
    @Test(arguments: traceNames)
    func fixturesMatchShared(_ name: String) throws {
        let shared = sharedTraces.appendingPathComponent(name + ".json")
        try #require(
            FileManager.default.fileExists(atPath: shared.path),
            "../shared/traces is missing beside the package: cannot compare the fixtures with the ground truth")
        #expect(try Data(contentsOf: shared) == Data(contentsOf: fixtureTraces.appendingPathComponent(name + ".json")))
    }

    /// The traces exercise what they claim: skips in the filtration traces, `r ≠ 1` in the long one.
    @Test func tracesExerciseTheirBehaviour() throws {
        let of = try TraceReplay.replay(
            UNTrace.load(path: fixtureTraces.appendingPathComponent("outlier-filtration.json").path))
        #expect(of.skips == 4)
        let pad = try TraceReplay.replay(UNTrace.load(path: fixtureTraces.appendingPathComponent("padding.json").path))
        #expect(pad.skips == 1)
    }

    /// A deliberately wrong implementation detail is caught: flipping one input sign at the
    /// last train step must make the replay diverge there.
    @Test func replayDetectsADeviation() throws {
        var t = try UNTrace.load(path: fixtureTraces.appendingPathComponent("windowed-smoothing.json").path)
        let last = t.steps.lastIndex { $0.mode == "train" }!
        t.steps[last].x[0] = -t.steps[last].x[0] + 0.5
        let r = try TraceReplay.replay(t)
        #expect(!r.withinTolerance)
        #expect(r.firstDivergentStep == last)
    }

    func expectMalformed(_ json: String, field: String) {
        #expect { _ = try UNTrace.decode(Data(json.utf8), path: "bad.json") } throws: { e in
            guard case .malformed(let file, let f, _) = e as? TraceError else { return false }
            return file == "bad.json" && f == field
        }
    }

    @Test func malformedTracesNameFileAndField() throws {
        let good = try String(contentsOf: fixtureTraces.appendingPathComponent("warmup-basic.json"), encoding: .utf8)
        // Truncated document.
        expectMalformed(String(good.prefix(good.count / 2)), field: "(document)")
        // Missing top-level field.
        expectMalformed(good.replacingOccurrences(of: "\"initial\"", with: "\"initialX\""), field: "initial")
        // Wrong format string.
        expectMalformed(good.replacingOccurrences(of: "un-trace/1", with: "un-trace/9"), field: "format")
        // Wrong type in a nested field.
        expectMalformed(
            good.replacingOccurrences(of: "\"fpWindow\":4", with: "\"fpWindow\":\"four\""), field: "config.fpWindow")
        // Wrong element count: drop the first step's first x value.
        var obj = try JSONSerialization.jsonObject(with: Data(good.utf8)) as! [String: Any]
        var steps = obj["steps"] as! [[String: Any]]
        var x = steps[0]["x"] as! [Double]
        x.removeFirst()
        steps[0]["x"] = x
        obj["steps"] = steps
        expectMalformed(
            String(decoding: try JSONSerialization.data(withJSONObject: obj), as: UTF8.self), field: "steps[0].x")
        #expect(throws: TraceError.self) { _ = try UNTrace.load(path: "/nonexistent/trace.json") }
    }
}
