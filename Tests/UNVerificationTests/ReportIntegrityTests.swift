import Foundation
import Testing
import UNParity

@testable import UNVerification

/// Recorded GPU runs are read wherever the README says to put them, judged on their rows, and a
/// file that cannot be read is an input error, never skipped.
@Suite("Report integrity")
struct ReportIntegrityTests {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "unv-parity-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d + "/h200", withIntermediateDirectories: true)
        return d
    }

    @Test func recordedRunWithViolationsIsFalsified() throws {
        let dir = try tempDir()
        var doc = ParityCLI.run(backend: "opencl", quick: true)
        try #require(!doc.rows.isEmpty, "needs the OpenCL CPU device (PoCL), installed by scripts/bootstrap.sh")
        doc.rows[0].boundViolations = 3  // the recorded flag still says "within bounds"
        try JSONEncoder().encode(doc).write(to: URL(fileURLWithPath: dir + "/h200/parity.json"))
        let s = try HardwarePathSection(recordedDirectory: dir).build(ReportContext(seed: 1, tracePaths: []))
        #expect(s.verdict == .falsified && s.summary.contains("1 recorded"), "\(s.summary)")
    }

    @Test func unreadableRecordedRunIsAnInputError() throws {
        let dir = try tempDir()
        try Data("{\"tool\": \"unverify-parity\", \"rows\": [".utf8).write(
            to: URL(fileURLWithPath: dir + "/h200/parity.json"))
        #expect(throws: ReportInputError.self) {
            _ = try HardwarePathSection(recordedDirectory: dir).build(ReportContext(seed: 1, tracePaths: []))
        }
        let r = Report.build(
            [HardwarePathSection(recordedDirectory: dir)], context: ReportContext(seed: 1, tracePaths: []))
        #expect(r.inputErrors.count == 1 && r.sections[0].verdict == .notRun)
    }

    /// A GPU machine's `--out` directory holds both files: each is read as what its `tool` says,
    /// the block timing reaches the inference-cost section, and a file of another tool is an
    /// input error.
    @Test func recordedBlockTimingIsReadBesideParity() throws {
        let dir = try tempDir()
        let parity = ParityCLI.run(backend: "opencl", quick: true)
        try JSONEncoder().encode(parity).write(to: URL(fileURLWithPath: dir + "/h200/parity.json"))
        let small = BlockShape(batch: 1, tokens: 5, width: 8, heads: 2)
        let timing = ParityCLI.runBlockTiming(
            backend: .cpu, [.init(shape: small, repetitions: 2, validationShape: small)])
        try BlockTiming.json(timing).write(to: URL(fileURLWithPath: dir + "/h200/block-timing.json"))
        let runs = try RecordedDeviceRuns.read(dir)
        #expect(runs.parity.count == 1 && runs.blockTiming.count == 1)
        let s = try HardwarePathSection(recordedDirectory: dir).build(ReportContext(seed: 1, tracePaths: []))
        #expect(s.summary.contains("1 recorded"), "\(s.summary)")
        let md = InferenceBenchmarkSection.recordedBlockTimings(runs.blockTiming)
        #expect(md.contains("| h200/block-timing.json | cpu: ") && md.contains("| yes |"), "\(md)")
        #expect(InferenceBenchmarkSection.recordedBlockTimings([]).contains("None recorded"))

        // A failed run records its infinite difference as "inf": it is read, and shown as failed.
        var failed = timing
        failed.runs[0].validation[0].normwiseDifference = .infinity
        failed.runs[0].validation[0].withinThreshold = false
        failed.runs[0].validated = false
        try BlockTiming.json(failed).write(to: URL(fileURLWithPath: dir + "/h200/block-timing.json"))
        let again = try RecordedDeviceRuns.read(dir)
        #expect(again.blockTiming[0].document.runs[0].validation[0].normwiseDifference == .infinity)
        #expect(InferenceBenchmarkSection.recordedBlockTimings(again.blockTiming).contains("NO: not timed"))

        try Data("{\"tool\": \"something-else\"}".utf8).write(to: URL(fileURLWithPath: dir + "/h200/other.json"))
        #expect(throws: ReportInputError.self) { _ = try RecordedDeviceRuns.read(dir) }
    }

    @Test func malformedTraceIsAnInputErrorNotAFalsifiedClaim() throws {
        let bad = NSTemporaryDirectory() + "unv-bad-\(UUID().uuidString).json"
        try Data("{\"format\": \"un-trace/1\"".utf8).write(to: URL(fileURLWithPath: bad))
        let r = Report.build([ReplaySection()], context: ReportContext(seed: 1, tracePaths: [bad]))
        #expect(r.inputErrors.count == 1 && r.verdict != .falsified, "\(r.sections.map(\.summary))")
    }
}
