/// Report section: replay of the authors' traces in the reference-compatible mode.
public struct ReplaySection: ReportSectionBuilder {
    public let id = "trace-replay"
    public init() {}

    public func build(_ context: ReportContext) throws -> ReportSection {
        let results = try context.tracePaths.map { try TraceReplay.replay(UNTrace.load(path: $0)) }
        return try Self.section(results)
    }

    static func section(_ results: [TraceReplay.Result]) throws -> ReportSection {
        let ok = results.allSatisfy(\.withinTolerance) && !results.isEmpty
        var md =
            """
            Each trace of the authors' PyTorch `UN1d` (float64) is replayed through `UnifiedNorm<Double>` in \
            `.referenceCompatible` mode; every recorded quantity is compared at every step by the normwise \
            relative error `max|a−e| / max|e|`. Tolerance \(sci(TraceReplay.tolerance)) (derivation in \
            `TraceReplay.tolerance`).\n\n
            """
        md += "| trace | steps | skips | " + TraceReplay.quantities.joined(separator: " | ") + " | first divergence |\n"
        md += "|---|---|---|" + TraceReplay.quantities.map { _ in "---" }.joined(separator: "|") + "|---|\n"
        for r in results {
            let cells = TraceReplay.quantities.map { q in
                r.quantities.first { $0.name == q }.map { sci($0.worstRelativeError) } ?? "–"
            }
            md +=
                "| \(r.trace) | \(r.steps) | \(r.skips) | " + cells.joined(separator: " | ")
                + " | \(r.firstDivergentStep.map { "step \($0) (\(r.firstDivergentQuantity ?? ""))" } ?? "none") |\n"
        }
        let worst = results.map(\.worst).max() ?? 0
        return ReportSection(
            id: "trace-replay", title: "Replay of the authors' UN1d traces", verdict: ok ? .holds : .falsified,
            summary:
                "\(results.count) traces, worst normwise relative error \(sci(worst)) "
                + "(tolerance \(sci(TraceReplay.tolerance)))",
            blocks: [.text(md)] + (perStepFigure(results).map { [.figure($0)] } ?? []),
            data: try JSONValue(encoding: results))
    }

    /// The per-step replay error of the longest trace (`y` and `∂X`, log scale, the tolerance drawn).
    static func perStepFigure(_ results: [TraceReplay.Result]) -> ReportFigure? {
        guard let r = results.max(by: { $0.steps < $1.steps }), !r.perStep.isEmpty else { return nil }
        let rows = r.perStep.enumerated().map { k, e in
            [Double(k + 1), e[0] > 0 ? e[0] : 1e-18, e[1] > 0 ? e[1] : 1e-18]
        }
        return ReportFigure(
            id: "replay-per-step", title: "Replay error per step: \(r.trace)",
            caption: "normwise relative error of the output and of ∂X at each of \(r.steps) steps against the "
                + "authors' float64 trace (exact agreement drawn at 1e-18); dashed: the tolerance",
            columns: ["step", "y", "gradInput"], rows: rows,
            script: """
                set logscale y
                set format y '10^{%L}'
                set yrange [1e-18:1e-10]
                set xlabel 'step'
                set ylabel 'normwise relative error'
                set key top right
                set grid
                plot 'DATA' using 1:2 with points pt 7 ps 0.3 title 'y', \\
                     '' using 1:3 with points pt 7 ps 0.3 title '∂X', \\
                     \(TraceReplay.tolerance) with lines dt 2 lc rgb 'black' title 'tolerance'
                """)
    }
}
