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

    @Option(help: "Also write the notebooks (generated from the report's JSON) into this directory.")
    var notebooks: String?

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
        let progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("  \($0)\r".utf8)) }
        let builders = UNVerification.Report.standardSections(progress: progress)
        let report = UNVerification.Report.build(
            builders, context: context, configuration: ["traces": dir, "effort": "\(effort)× the cases of swift test"]
        ) { k, id in
            FileHandle.standardError.write(Data("[\(k + 1)/\(builders.count)] \(id)…\n".utf8))
        } didBuild: { k, id, seconds in
            let t = (seconds * 10).rounded() / 10
            FileHandle.standardError.write(Data("[\(k + 1)/\(builders.count)] \(id) built in \(t) s\n".utf8))
        }
        // Both files are written in full under temporary names first, then renamed (JSON, then
        // Markdown): a full disk or an interrupt leaves the previous pair, or the new JSON beside
        // the previous Markdown for the instant between the two renames, never a truncated file.
        // Figures first (data, scripts, SVG), so the Markdown can say which ones exist.
        let figures: FigureRenderer.Outcome
        do { figures = try FigureRenderer.render(report.sections, into: out) } catch {
            throw ValidationError("could not write the figures into \(out)/figures: \(error.localizedDescription)")
        }
        for line in figures.notDrawn { FileHandle.standardError.write(Data("figure not drawn: \(line)\n".utf8)) }
        let md = Data(report.markdown(drawn: figures.drawn).utf8)
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
        if let notebooks {
            do {
                let files = try Notebooks.write(fromReport: out, to: notebooks)
                writeStdout("wrote \(files.count) notebook files into \(notebooks)\n")
            } catch {
                throw ValidationError("could not write the notebooks into \(notebooks): \(error)")
            }
        }
        if !report.inputErrors.isEmpty {
            FileHandle.standardError.write(
                Data(("error: inputs could not be read:\n" + report.inputErrors.joined(separator: "\n") + "\n").utf8))
            throw ExitCode(ExitStatus.usageOrEnvironment.rawValue)
        }
        try finish(report.verdict)
    }
}

struct NotebooksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notebooks", abstract: "Write notebooks-md/ from an existing report's report.json.")

    @Option(help: "Directory holding report.json (and figures/).")
    var report: String = "report"

    @Option(help: "Output directory.")
    var out: String = "notebooks-md"

    func run() throws {
        let files: [String]
        do { files = try Notebooks.write(fromReport: report, to: out) } catch {
            throw ValidationError("could not write the notebooks from \(report)/report.json: \(error)")
        }
        writeStdout("wrote \(files.joined(separator: ", ")) into \(out)\n")
    }
}
