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

    @Test func malformedTraceIsAnInputErrorNotAFalsifiedClaim() throws {
        let bad = NSTemporaryDirectory() + "unv-bad-\(UUID().uuidString).json"
        try Data("{\"format\": \"un-trace/1\"".utf8).write(to: URL(fileURLWithPath: bad))
        let r = Report.build([ReplaySection()], context: ReportContext(seed: 1, tracePaths: [bad]))
        #expect(r.inputErrors.count == 1 && r.verdict != .falsified, "\(r.sections.map(\.summary))")
    }
}
