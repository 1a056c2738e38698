import ArgumentParser
import Foundation
import UNClaims
import UNVerification

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run every check and write report.md and report.json.")

    @Option(help: "Output directory.")
    var out: String = "report"

    @Option(help: "Seed for every randomized check (printed in the report).")
    var seed: UInt64 = 20_220_801

    @Option(help: "Multiplier on the number of randomized cases relative to swift test (default 100).")
    var effort: Int = 100

    @Option(help: "Directory of un-trace/1 files to replay.")
    var traces: String?

    func run() throws {
        let dir = traces ?? defaultTraceDirectory()
        guard effort >= 1 else { throw ValidationError("--effort must be ≥ 1") }
        let context = ReportContext(seed: seed, tracePaths: try traceFiles(in: dir), effort: effort)
        var builders: [any ReportSectionBuilder] = []
        builders.append(ReplaySection())
        builders.append(CheckerAccuracySection())
        builders.append(CheckerPowerSection())
        builders.append(GradientMapSection())
        let progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("  \($0)\r".utf8)) }
        for entry in ClaimCatalogue.all { builders.append(ClaimSection(entry, progress: progress)) }
        builders.append(FiltrationStudySection())
        builders.append(FilterRatesSection())
        builders.append(SciPyAgreementSection())
        builders.append(HardwarePathSection())
        builders.append(InferenceBenchmarkSection())
        let report = UNVerification.Report.build(
            builders, context: context, configuration: ["traces": dir, "effort": "\(effort)× the cases of swift test"]
        ) { k, id in FileHandle.standardError.write(Data("[\(k + 1)/\(builders.count)] \(id)…\n".utf8)) }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try report.markdown().write(toFile: out + "/report.md", atomically: true, encoding: .utf8)
        try report.json().write(to: URL(fileURLWithPath: out + "/report.json"))
        for s in report.sections { writeStdout("\(s.verdict.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(s.title): \(s.summary)\n") }
        writeStdout("wrote \(out)/report.md and \(out)/report.json; overall: \(report.verdict.rawValue)\n")
        try finish(report.verdict)
    }
}
