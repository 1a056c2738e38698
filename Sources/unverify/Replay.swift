import ArgumentParser
import Foundation
import UNVerification

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay traces of the authors' UN1d through the reference-compatible UN and compare every quantity.")

    @Argument(
        help: "Trace files (format un-trace/1). Default: every trace in ../shared/traces (or Tests/Fixtures/traces).")
    var paths: [String] = []

    @Flag(help: "Print the results as JSON.")
    var json = false

    @Option(help: "Normwise relative error tolerance (finite, in (0, 1)).")
    var tolerance: Double = TraceReplay.tolerance

    func validate() throws {
        guard tolerance.isFinite, tolerance > 0, tolerance < 1 else {
            throw ValidationError("--tolerance must be finite and in (0, 1), got \(tolerance)")
        }
    }

    func run() throws {
        let files = paths.isEmpty ? try traceFiles(in: defaultTraceDirectory()) : paths
        var results: [TraceReplay.Result] = []
        for f in files {
            do { results.append(try TraceReplay.replay(UNTrace.load(path: f), tolerance: tolerance)) } catch let e
                as TraceError
            {
                throw ValidationError(e.description)
            }
        }
        if json {
            writeStdout(String(decoding: try JSONEncoder.toolkit.encode(results), as: UTF8.self) + "\n")
        } else {
            for r in results {
                let q = r.quantities.map { "\($0.name)=\(sci($0.worstRelativeError))" }.joined(separator: " ")
                let div =
                    r.firstDivergentStep.map { "DIVERGES at step \($0) (\(r.firstDivergentQuantity ?? ""))" } ?? "ok"
                writeStdout("\(r.trace): \(div); steps=\(r.steps) skips=\(r.skips) worst relative error: \(q)\n")
            }
            writeStdout("tolerance \(sci(tolerance)) (normwise relative error, max|a-e|/max|e|)\n")
        }
        try finish(results.allSatisfy(\.withinTolerance) ? .holds : .falsified)
    }
}
