import Foundation
import GradientCheck
import Testing
import UnifiedNormalization

@testable import UNVerification

/// Every notebook's Swift code runs here, verbatim: each test below holds one notebook's code
/// between `// notebook <file>` and `// end notebook`, and `codeInNotebooksIsTheCodeRunHere` checks
/// that `Notebooks.all[i].code` is exactly that text, so the notebooks cannot drift from code that
/// compiles and passes.
@Suite("Notebook code")
struct NotebookCodeTests {
    /// The regions of this file, by notebook file name, dedented.
    static func regions() throws -> [String: String] {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        var out: [String: String] = [:]
        var current: String?
        var lines: [Substring] = []
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("// notebook ") {
                current = String(t.dropFirst("// notebook ".count))
                lines = []
            } else if t == "// end notebook", let name = current {
                let indent =
                    lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                    .map { $0.prefix { $0 == " " }.count }.min() ?? 0
                out[name] = lines.map { String($0.dropFirst(min(indent, $0.count))) }.joined(separator: "\n")
                current = nil
            } else if current != nil {
                lines.append(line)
            }
        }
        return out
    }

    /// A report without a section a notebook shows is an input error, not a thinner notebook.
    @Test func missingSectionIsAnError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = Report.build([], context: ReportContext(seed: 1, tracePaths: []))
        try JSONEncoder.toolkit.encode(empty).write(to: dir.appendingPathComponent("report.json"))
        #expect(throws: ReportInputError.self) {
            try Notebooks.write(fromReport: dir.path, to: dir.appendingPathComponent("out").path)
        }
    }

    @Test func codeInNotebooksIsTheCodeRunHere() throws {
        let regions = try Self.regions()
        #expect(Set(regions.keys) == Set(Notebooks.all.map(\.file)))
        for nb in Notebooks.all {
            #expect(regions[nb.file] == nb.code.trimmingCharacters(in: .newlines), "\(nb.file)")
        }
    }

    @Test func replaying() throws {
        let paddingTrace = fixtureTraces.appendingPathComponent("padding.json").path
        // notebook 01-replaying-the-authors-code.md
        let trace = try UNTrace.load(path: paddingTrace)
        let result = try TraceReplay.replay(trace)
        print(result.steps, result.worst)  // 18 steps, worst normwise relative error ~1e-15
        precondition(result.withinTolerance)
        // end notebook
        #expect(result.steps == 18 && result.worst < 1e-14)
    }

    @Test func checking() throws {
        // notebook 02-is-the-backward-a-gradient.md
        let f: ([Double]) -> Double = { x in x[0] * x[0] * x[1] }
        let right = try GradientChecker().checkGradient(of: f, at: [1.5, -2], gradient: [-6, 2.25])
        let wrong = try GradientChecker().checkGradient(of: f, at: [1.5, -2], gradient: [-6, 2.25 * 1.001])
        print(right.outcome, wrong.outcome)  // pass fail
        precondition(right.outcome == .pass && wrong.outcome == .fail)
        // end notebook
    }

    @Test func filtering() throws {
        // notebook 03-the-filter.md
        let config = UnifiedNormConfiguration(channels: 4, forwardWindow: 2, warmupIters: 4, outlierFiltration: true)
        var paper = try UnifiedNorm<Double>(configuration: config, mode: .paper(.calibrated))
        var authors = try UnifiedNorm<Double>(configuration: config, mode: .referenceCompatible)
        for t in 0..<20 {
            let values = (0..<32).map { k in sin(Double(7 * t + k)) * (t == 12 ? 10 : 1) }
            let x = try TokenBatch<Double>(tokens: 8, channels: 4, values: values)
            _ = try paper.forwardTraining(x)
            _ = try authors.forwardTraining(x)
        }
        print(paper.skipCounter, authors.skipCounter)  // 0 for the paper's rule; the authors' rule skips
        precondition(paper.skipCounter == 0 && authors.skipCounter > 0)
        // end notebook
    }

    @Test func folding() throws {
        // notebook 04-fusion-statistics-hardware.md
        let un = try UnifiedNorm<Double>(
            configuration: .init(channels: 2), mode: .referenceCompatible, weight: [2, 0.5], bias: [1, -1])
        let linear = try LinearLayer<Double>(inputs: 2, outputs: 1, weight: [3, -4], bias: [0.25])
        let folded = try Fusion.fold(un, intoFollowing: linear)
        let x = try TokenBatch<Double>(tokens: 1, channels: 2, values: [0.5, -1.5])
        let unfolded = try linear.apply(un.forwardInference(x)).values[0]
        let fused = try folded.apply(x).values[0]
        print(fused, unfolded)  // equal up to rounding
        precondition(abs(fused - unfolded) <= 1e-12 * abs(unfolded))
        // end notebook
    }

    /// The notebooks render from a report's JSON alone (a decoded round trip), with every section
    /// they name or a note that it is missing.
    @Test func notebooksRenderFromJSON() throws {
        let paths = ["padding"].map { fixtureTraces.appendingPathComponent($0 + ".json").path }
        let r = Report.build([ReplaySection()], context: ReportContext(seed: 3, tracePaths: paths))
        let decoded = try JSONDecoder.toolkit.decode(Report.self, from: r.json())
        let md = Notebooks.all[0].render(decoded)
        #expect(md.contains("### Replay of the authors' UN1d traces") && md.contains("| padding |"))
        #expect(md.contains("```swift\nlet trace = try UNTrace.load(path: paddingTrace)"))
        #expect(md.contains("(section `conformance` is not in this report)"))
    }
}
