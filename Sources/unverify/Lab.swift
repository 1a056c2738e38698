import ArgumentParser
import Foundation
import Synchronization
import UNLab

extension LabTask: ExpressibleByArgument {}

/// Set by SIGINT: the running step finishes, completed runs are written, the command exits 3.
let labStopRequested = Atomic<Bool>(false)

struct Lab: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a lab study (every norm × seed × learning rate on one task) and write its results.",
        discussion: """
            Without options it runs the committed digits study (the preset) into lab-results/digits-study; \
            with --task text the committed text study into lab-results/text-study. Each run \
            is written when it completes (runs/ID.json and runs/ID.csv, and study.json); run the same command \
            again to resume an interrupted study (completed runs are kept). Ctrl-C finishes the current step, \
            writes what is complete and exits 3. Exit 0: the study is complete; 2: bad input or a directory \
            holding a different study.
            """)

    @Option(help: "The task: digits (a ViT on the 8 × 8 digits) or text (a byte-level LM on padded sentences).")
    var task: LabTask = .digits
    @Option(help: "Output directory (default: lab-results/TASK-study).") var out: String?
    @Option(help: "The data file (default: Data/digits/digits.bin or Data/sentences/wordnet-examples.txt).")
    var data: String?
    @Option(help: "Norms, comma-separated, from: \(LabNorm.allCases.map(\.rawValue).joined(separator: ", ")).")
    var norms: String?
    @Option(help: "Seeds, comma-separated.") var seeds: String?
    @Option(help: "Peak learning rates, comma-separated (the largest is the divergence study's).")
    var learningRates: String?
    @Option(help: "AdamW steps per run.") var steps: Int?
    @Flag(help: "Print the study's JSON summary instead of a table; no progress display.") var json = false

    func study() throws -> LabStudyConfiguration {
        var c = LabStudyConfiguration.preset(task)
        if let norms {
            c.norms = try norms.split(separator: ",").map { s in
                guard let n = LabNorm(rawValue: String(s)) else { throw ValidationError("--norms: unknown norm \(s)") }
                return n
            }
        }
        if let seeds {
            c.seeds = try seeds.split(separator: ",").map { s in
                guard let v = UInt64(s) else { throw ValidationError("--seeds: not a seed: \(s)") }
                return v
            }
        }
        if let learningRates {
            c.learningRates = try learningRates.split(separator: ",").map { s in
                guard let v = Double(s) else { throw ValidationError("--learning-rates: not a number: \(s)") }
                return v
            }
        }
        if let steps { c.steps = steps }
        do { try c.validate() } catch { throw ValidationError("\(error)") }
        return c
    }

    func validate() throws { _ = try study() }

    func run() throws {
        let c = try study()
        let out = self.out ?? "lab-results/\(task.rawValue)-study"
        let data =
            self.data ?? (task == .digits ? "Data/digits/digits.bin" : "Data/sentences/wordnet-examples.txt")
        let dataset: LabData
        do {
            let url = URL(fileURLWithPath: data)
            dataset =
                task == .digits
                ? .digits(try DigitsDataset(contentsOf: url)) : .text(try SentenceCorpus(contentsOf: url))
        } catch {
            throw ValidationError("--data \(data): \(error)")
        }
        let unit = task == .digits ? "images/s" : "tokens/s"
        let dir = URL(fileURLWithPath: out)
        let runsDir = dir.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runsDir, withIntermediateDirectories: true)
        let studyFile = dir.appendingPathComponent("study.json")
        var done: [String: LabRunResult] = [:]
        if let existing = try? Data(contentsOf: studyFile) {
            let old: LabStudyRecord
            do { old = try JSONDecoder().decode(LabStudyRecord.self, from: existing) } catch {
                throw ValidationError("\(studyFile.path) is not a lab study: \(error)")
            }
            guard old.configuration == c else {
                throw ValidationError("\(out) holds a different study (its configuration differs); use another --out")
            }
            for r in old.runs { done[r.key.id] = r }
        }
        signal(SIGINT) { _ in labStopRequested.store(true, ordering: .relaxed) }
        let terminal = isatty(STDERR_FILENO) == 1 && !json
        let keys = c.runs
        let start = Date()
        let command = CommandLine.arguments.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
        func record() -> LabStudyRecord {
            LabStudyRecord(
                configuration: c, command: command.replacingOccurrences(of: CommandLine.arguments[0], with: "unverify"),
                commit: Self.shell("git", "rev-parse", "--short", "HEAD") ?? "unknown", machine: Self.machine(),
                date: ISO8601DateFormatter().string(from: Date()), runs: keys.compactMap { done[$0.id] })
        }
        var interrupted = false
        let pending = keys.filter { done[$0.id] == nil }.count
        var ranHere = 0
        for (i, key) in keys.enumerated() where done[key.id] == nil {
            let r = try LabStudy.run(
                key, configuration: c, data: dataset,
                progress: { step, loss, rate in
                    guard terminal, step % 10 == 0 || step == c.steps else { return }
                    // Time left: the mean time per run so far in this session, times the runs left.
                    let fraction = Double(step) / Double(c.steps)
                    let perRun = Date().timeIntervalSince(start) / (Double(ranHere) + fraction)
                    let eta = perRun * (Double(pending - ranHere) - fraction)
                    FileHandle.standardError.write(
                        Data(
                            String(
                                format:
                                    "\r\u{1B}[Krun %d/%d %@: step %d/%d, loss %.4f, %.0f %@, about %.0f s left",
                                i + 1, keys.count, key.id, step, c.steps, loss, rate, unit, eta
                            ).utf8))
                },
                shouldStop: { labStopRequested.load(ordering: .relaxed) })
            guard let r else {
                interrupted = true
                break
            }
            done[key.id] = r
            ranHere += 1
            try Self.write(r, to: runsDir)
            try Self.writeJSON(record(), to: studyFile)
        }
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let rec = record()
        try Self.writeJSON(rec, to: studyFile)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            writeStdout(String(decoding: try enc.encode(rec), as: UTF8.self) + "\n")
        } else {
            var lines = ["\(rec.runs.count) of \(keys.count) runs complete in \(out)"]
            for n in c.norms {
                for lr in c.learningRates {
                    let rs = rec.runs.filter { $0.key.norm == n && $0.key.learningRate == lr }
                    let acc = rs.compactMap { task == .digits ? $0.testAccuracy : $0.testBitsPerToken }
                    let mean = acc.isEmpty ? Double.nan : acc.reduce(0, +) / Double(acc.count)
                    lines.append(
                        String(
                            format: "%-12@ lr %-7g %@ %.4f (%d runs), diverged %d", n.rawValue as NSString,
                            lr, task == .digits ? "test accuracy" : "test bits per token", mean, acc.count,
                            rs.filter(\.diverged).count))
                }
            }
            writeStdout(lines.joined(separator: "\n") + "\n")
        }
        if interrupted {
            FileHandle.standardError.write(
                Data(
                    "interrupted: \(rec.runs.count) of \(keys.count) runs written; run the same command to resume\n"
                        .utf8))
            throw ExitCode(ExitStatus.inconclusive.rawValue)
        }
    }

    static func write(_ r: LabRunResult, to dir: URL) throws {
        try writeJSON(r, to: dir.appendingPathComponent(r.key.id + ".json"))
        let csv = "step,loss\n" + r.losses.enumerated().map { "\($0.offset + 1),\($0.element)" }.joined(separator: "\n")
        try Data((csv + "\n").utf8).write(to: dir.appendingPathComponent(r.key.id + ".csv"), options: .atomic)
    }

    static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try enc.encode(value).write(to: url, options: .atomic)
    }

    static func shell(_ args: String...) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func machine() -> String {
        let cpu =
            (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        return "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
