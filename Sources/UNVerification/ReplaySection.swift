/// Report section: replay of the authors' traces in the reference-compatible mode.
public struct ReplaySection: ReportSectionBuilder {
    public let id = "trace-replay"
    public init() {}

    public func build(_ context: ReportContext) throws -> ReportSection {
        let results = try context.tracePaths.map { try TraceReplay.replay(UNTrace.load(path: $0)) }
        return Self.section(results)
    }

    static func section(_ results: [TraceReplay.Result]) -> ReportSection {
        let ok = results.allSatisfy(\.withinTolerance) && !results.isEmpty
        var md = "Each trace of the authors' PyTorch `UN1d` (float64) is replayed through `UnifiedNorm<Double>` in `.referenceCompatible` mode; every recorded quantity is compared at every step by the normwise relative error `max|a−e| / max|e|`. Tolerance \(sci(TraceReplay.tolerance)) (derivation in `TraceReplay.tolerance`).\n\n"
        md += "| trace | steps | skips | " + TraceReplay.quantities.joined(separator: " | ") + " | first divergence |\n"
        md += "|---|---|---|" + TraceReplay.quantities.map { _ in "---" }.joined(separator: "|") + "|---|\n"
        for r in results {
            let cells = TraceReplay.quantities.map { q in r.quantities.first { $0.name == q }.map { sci($0.worstRelativeError) } ?? "–" }
            md += "| \(r.trace) | \(r.steps) | \(r.skips) | " + cells.joined(separator: " | ")
                + " | \(r.firstDivergentStep.map { "step \($0) (\(r.firstDivergentQuantity ?? ""))" } ?? "none") |\n"
        }
        let worst = results.map(\.worst).max() ?? 0
        return ReportSection(
            id: "trace-replay", title: "Replay of the authors' UN1d traces", verdict: ok ? .holds : .falsified,
            summary: "\(results.count) traces, worst normwise relative error \(sci(worst)) (tolerance \(sci(TraceReplay.tolerance)))",
            markdown: md, data: (try? JSONValue(encoding: results)) ?? .null)
    }
}
