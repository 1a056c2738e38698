import ArgumentParser
import Foundation
import UNVerification
import UnifiedNormalization

extension ConformanceTarget: ExpressibleByArgument {}

struct Conform: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check traces of any UN implementation against the authors' code or the paper, and name what differs.",
        discussion: """
            Traces are un-trace/1 or un-trace/2 files (Tests/Fixtures/conformance/README.md); record one with \
            scripts/record_trace.py. Several traces are taken as one implementation. Exit 0: conforms; 1: does not \
            (with a diagnosis for --against reference); 2: unreadable or malformed input.
            """)

    @Argument(help: "Trace files of one implementation.")
    var paths: [String] = []

    @Option(help: "What to check against: reference, paper-calibrated or paper-exact.")
    var against: ConformanceTarget = .reference

    @Flag(help: "Print the result as JSON (schemaVersion 1).")
    var json = false

    @Option(help: "Normwise relative error tolerance per quantity (finite, in (0, 1); 1e-12 suits float64 traces).")
    var tolerance: Double = TraceReplay.tolerance

    @Option(help: "Write the standard conformance vectors (this target's mode) into DIR instead of checking.")
    var writeVectors: String?

    func validate() throws {
        guard tolerance.isFinite, tolerance > 0, tolerance < 1 else {
            throw ValidationError("--tolerance must be finite and in (0, 1), got \(tolerance)")
        }
        if writeVectors == nil && paths.isEmpty { throw ValidationError("give at least one trace file") }
    }

    func run() throws {
        if let dir = writeVectors {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for spec in ConformanceVectors.specs where against == .reference || !spec.referenceOnly {
                let t = try ConformanceVectors.record(
                    spec, mode: against.mode, implementation: "unverify \(against.rawValue) mode")
                let path = (dir as NSString).appendingPathComponent("\(spec.name).json")
                guard FileManager.default.createFile(atPath: path, contents: try t.jsonData()) else {
                    throw ValidationError("cannot write \(path)")
                }
            }
            writeStdout("wrote the \(against.rawValue) vectors to \(dir)\n")
            return
        }
        let traces: [UNTrace]
        do { traces = try paths.map { try UNTrace.load(path: $0) } } catch let e as TraceError {
            throw ValidationError(e.description)
        }
        let r = try Conformance.check(traces, against: against, tolerance: tolerance)
        if json {
            writeStdout(String(decoding: try JSONEncoder.toolkit.encode(r), as: UTF8.self) + "\n")
        } else {
            for t in r.traces {
                let q = t.quantities.map { "\($0.name)=\(sci($0.worstRelativeError))" }.joined(separator: " ")
                let div =
                    t.divergences.first.map {
                        "DIFFERS from step \($0.step) (\($0.quantities.joined(separator: ", ")))"
                    }
                    ?? "conforms"
                writeStdout("\(t.trace): \(div); \(t.divergences.count) of \(t.steps) steps differ; worst: \(q)\n")
            }
            if r.conforms {
                writeStdout("CONFORMS to \(against.rawValue) (tolerance \(sci(tolerance)))\n")
            } else if let d = r.diagnosis {
                if d.explanations.isEmpty {
                    writeStdout(
                        "DOES NOT CONFORM to the authors' code; no single named deviation or pair explains the traces "
                            + "(\(d.candidatesTried) tried)\n")
                } else {
                    writeStdout("DOES NOT CONFORM to the authors' code; reproduced exactly (to the tolerance) by:\n")
                    for e in d.explanations {
                        writeStdout(
                            "  - \(e.deviations.joined(separator: " + ")): \(e.behaviours.joined(separator: "; ")) "
                                + "differs (residual \(sci(e.residual)))\n")
                    }
                    if d.explanations.count > 1 { writeStdout("  (these traces cannot tell the explanations apart)\n") }
                }
            } else {
                writeStdout("DOES NOT CONFORM to \(against.rawValue)\n")
            }
        }
        try finish(r.conforms ? .holds : .falsified)
    }
}
