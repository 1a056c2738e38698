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

    func validate() throws {
        guard (1...10_000).contains(effort) else {
            throw ValidationError("--effort must be in 1...10000, got \(effort)")
        }
    }

    func run() throws {
        // The output location is checked before minutes of work: a directory we can write in.
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: out, isDirectory: &isDir), !isDir.boolValue {
            throw ValidationError("--out \(out) exists and is not a directory")
        }
        do {
            try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
            let probe = out + "/.write-probe-\(getpid())"
            guard fm.createFile(atPath: probe, contents: Data()) else { throw CocoaError(.fileWriteNoPermission) }
            try fm.removeItem(atPath: probe)
        } catch {
            throw ValidationError("--out \(out) is not a writable directory: \(error.localizedDescription)")
        }
        let dir = traces ?? defaultTraceDirectory()
        let context = ReportContext(seed: seed, tracePaths: try traceFiles(in: dir), effort: effort)
        var builders: [any ReportSectionBuilder] = []
        builders.append(ReplaySection())
        builders.append(ConformanceSection())
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
        // Both files are written in full under temporary names first, then renamed (JSON, then
        // Markdown): a full disk or an interrupt leaves the previous pair, or the new JSON beside
        // the previous Markdown for the instant between the two renames, never a truncated file.
        let md = Data(report.markdown().utf8)
        let js = try report.json()
        let tmpMD = out + "/.report.md.tmp"
        let tmpJS = out + "/.report.json.tmp"
        do {
            try js.write(to: URL(fileURLWithPath: tmpJS))
            try md.write(to: URL(fileURLWithPath: tmpMD))
            // rename(2) replaces its target atomically.
            for (from, to) in [(tmpJS, out + "/report.json"), (tmpMD, out + "/report.md")] where rename(from, to) != 0 {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: to, "errno": errno])
            }
        } catch {
            try? fm.removeItem(atPath: tmpMD)
            try? fm.removeItem(atPath: tmpJS)
            throw ValidationError("could not write the report into \(out): \(error.localizedDescription)")
        }
        for s in report.sections {
            writeStdout(
                "\(s.verdict.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0)) \(s.title): \(s.summary)\n")
        }
        writeStdout("wrote \(out)/report.md and \(out)/report.json; overall: \(report.verdict.rawValue)\n")
        if !report.inputErrors.isEmpty {
            FileHandle.standardError.write(
                Data(("error: inputs could not be read:\n" + report.inputErrors.joined(separator: "\n") + "\n").utf8))
            throw ExitCode(ExitStatus.usageOrEnvironment.rawValue)
        }
        try finish(report.verdict)
    }
}
