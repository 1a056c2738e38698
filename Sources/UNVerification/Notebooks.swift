import Foundation

/// The notebooks of `notebooks-md/`: narrative around the sections of one report, generated from
/// `report.json` (``render(_:)``), never by scraping its Markdown. Each notebook's Swift code is
/// also compiled and run by the test suite (`NotebookCodeTests`), which checks that the code
/// printed here is exactly the code it runs, so no example can rot.
public struct Notebook: Sendable {
    /// File name in `notebooks-md/`.
    public var file: String
    public var title: String
    /// Markdown before the code.
    public var introduction: String
    /// Swift, run by the tests (the names it uses that are not defined in it are explained in
    /// ``codeContext``).
    public var code: String
    public var codeContext: String
    /// The report sections shown, by id, in order.
    public var sections: [String]

    /// The notebook as Markdown, from a report (decoded from its JSON). Figures are linked under
    /// `figures/`, where ``Notebooks/write(from:reportDirectory:to:)`` copies them.
    public func render(_ report: Report, drawn: Set<String>? = nil) -> String {
        var s = "# \(title)\n\n"
        s += "_Generated from `report.json` of the report of \(report.generatedAt) (seed \(report.seed), "
        s += "\(report.toolchain)) by `unverify notebooks`._\n\n"
        s += introduction.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n"
        s += codeContext.trimmingCharacters(in: .whitespacesAndNewlines) + "\n\n"
        s += "```swift\n" + code.trimmingCharacters(in: .newlines) + "\n```\n"
        for id in sections {
            guard let sec = report.sections.first(where: { $0.id == id }) else {
                s += "\n_(section `\(id)` is not in this report)_\n"
                continue
            }
            s += "\n### \(sec.title)\n\nVerdict: **\(sec.verdict.rawValue)**. \(sec.summary)\n\n"
            s += sec.markdown(drawn: drawn).replacingOccurrences(of: "\n## ", with: "\n#### ") + "\n"
        }
        return s
    }
}

public enum Notebooks {
    public static let all: [Notebook] = [
        Notebook(
            file: "01-replaying-the-authors-code.md", title: "Does our UN behave exactly like the authors' code?",
            introduction: """
                The authors' `UN1d` has behaviours the paper does not describe: the iteration counter is
                incremented before the step, the filtration threshold is the *unbiased* variance of the square
                roots of the *whole previous buffer* (all `M·C` entries pooled), a skipped step overwrites its
                buffer slot with the running variance, the backward multiplies by a compensation factor `r`
                clamped to `[1/5, 5]` after step `max(1000, warm-up)`, both moving averages start at zero, and
                the backward averages over all `B·N` positions while the statistics use real tokens only.

                `UnifiedNorm(mode: .referenceCompatible)` reproduces all of that. The float64 traces recorded
                from the authors' PyTorch code are replayed step by step, comparing every recorded quantity.
                """,
            code: """
                let trace = try UNTrace.load(path: paddingTrace)
                let result = try TraceReplay.replay(trace)
                print(result.steps, result.worst)  // 18 steps, worst normwise relative error ~1e-15
                precondition(result.withinTolerance)
                """,
            codeContext:
                "`paddingTrace` is the path of `Tests/Fixtures/traces/padding.json` "
                + "(a copy of a trace in `../shared/traces`).",
            sections: ["trace-replay", "conformance"]),
        Notebook(
            file: "02-is-the-backward-a-gradient.md", title: "Is each backward pass the gradient of its forward?",
            introduction: """
                UN's backward is *calibrated*: it uses a moving average `ψ` of the gradient statistic instead of
                the current one. Whether a given implementation's backward is the true gradient of its forward
                is measured here, not assumed. The gradient checker (Richardson extrapolation from an
                automatically chosen step, an error bound per entry, least-squares refinement where the
                function's rounding limits the tableau, and a three-valued verdict) is first measured on
                functions with known derivatives, then applied to every layer, mode and regime.
                """,
            code: """
                let f: ([Double]) -> Double = { x in x[0] * x[0] * x[1] }
                let right = try GradientChecker().checkGradient(of: f, at: [1.5, -2], gradient: [-6, 2.25])
                let wrong = try GradientChecker().checkGradient(of: f, at: [1.5, -2], gradient: [-6, 2.25 * 1.001])
                print(right.outcome, wrong.outcome)  // pass fail
                precondition(right.outcome == .pass && wrong.outcome == .fail)
                """,
            codeContext: "The checker needs nothing but the function, the point and the claimed gradient:",
            sections: ["checker-accuracy", "checker-power", "claim-g5", "claim-g1", "claim-g3"]),
        Notebook(
            file: "03-the-filter.md",
            title: "The outlier filter: a bound that cannot be exceeded, and a rule that fires anyway",
            introduction: """
                The paper filters an iteration when `E(Ω) − Π(Ω) > M·V(Ω^{1/2})`. Kober's inequality says
                `E − Π ≤ M·V` for *every* positive window, so that test never fires in exact arithmetic; in
                floating point the naive comparison does fire at `M = 2`, where the two sides are equal. The
                authors' code compares with the previous buffer's pooled variance instead, and that rule fires —
                measured below, on stationary data where nothing is an outlier.
                """,
            code: """
                let config = UnifiedNormConfiguration(channels: 4, forwardWindow: 2, warmupIters: 4, \
                outlierFiltration: true)
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
                """,
            codeContext: "Twenty steps with one spiked step (×10), through the paper's rule and the authors':",
            sections: ["claim-k1", "claim-k2", "claim-k4", "filtration-study", "claim-s2"]),
        Notebook(
            file: "04-fusion-statistics-hardware.md", title: "Fusion, statistics, range and the hardware path",
            introduction: """
                At inference UN is a per-channel affine map and folds into the neighbouring linear layer; the
                fold is exact over the reals and within a derived rounding bound in floating point. LayerNorm is
                not affine and cannot be folded. Every layer normalizes `k·x` like `x` over the whole exponent
                range (N1). The statistical routines behind S1 and S2 are checked against SciPy, and the kernels
                of the hardware path are compared with the CPU.
                """,
            code: """
                let un = try UnifiedNorm<Double>(
                    configuration: .init(channels: 2), mode: .referenceCompatible, weight: [2, 0.5], bias: [1, -1])
                let linear = try LinearLayer<Double>(inputs: 2, outputs: 1, weight: [3, -4], bias: [0.25])
                let folded = try Fusion.fold(un, intoFollowing: linear)
                let x = try TokenBatch<Double>(tokens: 1, channels: 2, values: [0.5, -1.5])
                let unfolded = try linear.apply(un.forwardInference(x)).values[0]
                let fused = try folded.apply(x).values[0]
                print(fused, unfolded)  // equal up to rounding
                precondition(abs(fused - unfolded) <= 1e-12 * abs(unfolded))
                """,
            codeContext: "A UN layer (at its initial running variance) folded into the linear layer after it:",
            sections: [
                "claim-f1", "claim-f2", "claim-f3", "claim-n1", "claim-s1", "claim-s3", "hardware-path",
                "inference-cost", "benchmarks",
            ]),
    ]

    /// Writes every notebook and an index into `directory`, from the report decoded from
    /// `reportDirectory/report.json`, and copies the figures they show into `directory/figures`.
    /// - Returns: the files written.
    /// - Throws: a read, decoding (including a newer `schemaVersion`) or write error.
    @discardableResult
    public static func write(fromReport reportDirectory: String, to directory: String) throws -> [String] {
        let data = try Data(contentsOf: URL(fileURLWithPath: reportDirectory + "/report.json"))
        let report = try JSONDecoder.toolkit.decode(Report.self, from: data)
        guard report.schemaVersion <= Report.currentSchemaVersion else {
            throw ReportInputError(
                file: reportDirectory + "/report.json",
                reason: "schema version \(report.schemaVersion) is newer than \(Report.currentSchemaVersion)")
        }
        // A section a notebook shows that the report lacks is an error, never a silently thinner notebook.
        let present = Set(report.sections.map(\.id))
        for nb in all {
            if let missing = nb.sections.first(where: { !present.contains($0) }) {
                throw ReportInputError(
                    file: reportDirectory + "/report.json", reason: "no section '\(missing)' (needed by \(nb.file))")
            }
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory + "/figures", withIntermediateDirectories: true)
        var drawn = Set<String>()
        var written: [String] = []
        for nb in all {
            for id in nb.sections {
                for case .figure(let f) in report.sections.first(where: { $0.id == id })?.blocks ?? [] {
                    for ext in ["svg", "csv", "gp"] {
                        let from = "\(reportDirectory)/figures/\(f.id).\(ext)"
                        let to = "\(directory)/figures/\(f.id).\(ext)"
                        guard fm.fileExists(atPath: from) else { continue }
                        if fm.fileExists(atPath: to) { try fm.removeItem(atPath: to) }
                        try fm.copyItem(atPath: from, toPath: to)
                        if ext == "svg" { drawn.insert(f.id) }
                    }
                }
            }
        }
        for nb in all {
            try Data(nb.render(report, drawn: drawn).utf8).write(to: URL(fileURLWithPath: directory + "/" + nb.file))
            written.append(nb.file)
        }
        var index = "# Notebooks\n\nRead without running anything; each is narrative around the numbers of one report, "
        index += "generated from its `report.json` by `unverify notebooks` (and by `make report`). The Swift code in "
        index += "each is compiled and run by `swift test` (`NotebookCodeTests`).\n\n"
        for nb in all { index += "- [\(nb.title)](\(nb.file))\n" }
        try Data(index.utf8).write(to: URL(fileURLWithPath: directory + "/README.md"))
        return written + ["README.md"]
    }
}
