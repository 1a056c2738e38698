import ArgumentParser
import Foundation
import UNVerification

/// Exit codes of `unverify`: 0 everything checked holds, 1 a claim or check is falsified,
/// 2 usage or environment error (bad arguments, missing or malformed input files).
enum ExitStatus: Int32 {
    case holds = 0
    case falsified = 1
    case usageOrEnvironment = 2
    /// Nothing was falsified, but something could not be decided.
    case inconclusive = 3
}

@main
struct Unverify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unverify",
        abstract: "Verify the theory and implementations of Unified Normalization.",
        subcommands: [
            Report.self, Replay.self, Conform.self, GradCheck.self, Parity.self, Bench.self, NotebooksCommand.self,
            Lab.self,
        ])

    /// Maps ArgumentParser's usage errors and every thrown error to our exit codes.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let e as ExitCode {
            Foundation.exit(e.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code.rawValue == 0 {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(
                Data(("error: " + (error is ValidationError ? "\(error)" : fullMessage(for: error)) + "\n").utf8))
            Foundation.exit(ExitStatus.usageOrEnvironment.rawValue)
        }
    }
}

func finish(_ verdict: Verdict) throws -> Never {
    switch verdict {
    case .falsified: Foundation.exit(ExitStatus.falsified.rawValue)
    // A section that did not run left something unchecked: not a pass (README, exit codes).
    case .inconclusive, .notRun: Foundation.exit(ExitStatus.inconclusive.rawValue)
    case .holds, .informational: Foundation.exit(ExitStatus.holds.rawValue)
    }
}

func writeStdout(_ s: String) { FileHandle.standardOutput.write(Data(s.utf8)) }

/// `../shared/traces` beside the package when present (the ground truth), else the copy in
/// `Tests/Fixtures/traces`.
func defaultTraceDirectory() -> String {
    let fm = FileManager.default
    for d in ["../shared/traces", "Tests/Fixtures/traces"] where fm.fileExists(atPath: d) { return d }
    return "Tests/Fixtures/traces"
}

func traceFiles(in dir: String) throws -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
        throw ValidationError("trace directory \(dir) not found")
    }
    let files = names.filter { $0.hasSuffix(".json") }.sorted().map { dir + "/" + $0 }
    if files.isEmpty { throw ValidationError("no *.json traces in \(dir)") }
    return files
}
