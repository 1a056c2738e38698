import Foundation
import UNParity

/// Report section: the hardware path. Runs every backend available here against the CPU
/// reference, marks the others as not run with the reason, and includes results recorded on
/// GPU machines (`parity-results/*.json`, written by `unverify-parity --out`), if any.
public struct HardwarePathSection: ReportSectionBuilder {
    public let id = "hardware-path"
    public var recordedDirectory: String
    public init(recordedDirectory: String = "parity-results") { self.recordedDirectory = recordedDirectory }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let live = ParityCLI.run(backend: "all")
        // Every recorded run is read (`parity-results/<machine>/parity.json`, as the README says to
        // record them, and any `*.json` below); one that cannot be read is an input error.
        let recorded = try RecordedDeviceRuns.read(recordedDirectory).parity
        var md =
            """
            Kernels of UN's hardware path — (1) the inference affine map, (2) the folded linear layer against the \
            unfolded pair (UN then linear), (3) the masked per-channel quadratic mean and the log-domain \
            geometric mean, (4) LayerNorm — run on each backend and compared entry by entry with the CPU numeric \
            module. Each entry's difference is measured in ulps and relative error and checked against a bound \
            derived from the operation count (`ParityBounds`: the sum of both sides' forward-error bounds, device \
            math functions at the OpenCL accuracy limits). Shapes include 1×1, sizes around the 64-wide work \
            group, and 4096×96.\n\n**Backends on this machine.**\n\n
            """
        for b in live.backends {
            md +=
                b.available
                ? "- \(b.name): ran on \(b.device ?? "")\(b.error.map { " — failed: \($0)" } ?? "")\n"
                : "- \(b.name): not run — \(b.reason ?? "")\n"
        }
        if !live.rows.isEmpty { md += "\n```\n" + ParityRunner.table(live.rows) + "```\n" }
        if recorded.isEmpty {
            md +=
                """
                \n**GPU runs.** None recorded yet: no GPU machine was available to this toolkit's sessions so \
                far. Build the self-contained runner with `scripts/build-parity.sh` and run it on a GPU machine \
                with `--out parity-results/<name>`; its JSON is picked up here.\n
                """
        } else {
            for (f, d) in recorded {
                md +=
                    "\n**Recorded run `\(f)`.** "
                    + d.backends.map {
                        "\($0.name): \($0.available ? ($0.device ?? "") : "not available — \($0.reason ?? "")")"
                    }.joined(separator: "; ") + "\n\n```\n" + ParityRunner.table(d.rows) + "```\n"
            }
        }
        let all = [live] + recorded.map(\.1)
        // A recorded run is judged on its rows, not only on the flag it recorded.
        let ok = all.allSatisfy { $0.allWithinBounds && $0.rows.allSatisfy { $0.boundViolations == 0 } }
        let ran = live.backends.filter { $0.available }.map(\.name)
        return ReportSection(
            id: id, title: "Hardware path: GPU-vs-CPU parity", verdict: ok ? .holds : .falsified,
            summary:
                """
                ran here: \(ran.isEmpty ? "none" : ran.joined(separator: ", ")); \(live.rows.count) comparisons, \
                \(live.rows.reduce(0) { $0 + $1.boundViolations }) entries beyond their bound; \(recorded.count) \
                recorded GPU run(s)
                """,
            blocks: [.text(md)] + (Self.ulpFigure(all.flatMap(\.rows)).map { [.figure($0)] } ?? []),
            data: try JSONValue(encoding: [
                "live": JSONValue(encoding: live), "recorded": JSONValue(encoding: recorded.map(\.1)),
            ]))
    }

    /// The distribution of the parity error in ulps: per comparison (kernel, shape, precision,
    /// backend), its median, 99th percentile and maximum, sorted by the maximum.
    static func ulpFigure(_ rows: [ParityRow]) -> ReportFigure? {
        guard !rows.isEmpty else { return nil }
        let sorted = rows.sorted { $0.maxULPs < $1.maxULPs }
        let data = sorted.enumerated().map { k, r in
            [Double(k + 1), max(r.medianULPs, 0.01), max(r.p99ULPs, 0.01), max(r.maxULPs, 0.01)]
        }
        return ReportFigure(
            id: "parity-ulps", title: "GPU-vs-CPU parity: error in ulps",
            caption:
                "each comparison (kernel × shape × precision × backend, \(rows.count) in all) sorted by its worst "
                + "entry; median, 99th percentile and maximum difference in ulps of the CPU value (0 drawn at 0.01); "
                + "the "
                + "large counts are entries near 0 after cancellation, where the derived bound (from the operands' "
                + "magnitudes, not the result's) allows them",
            columns: ["comparison", "median", "p99", "max"], rows: data,
            script: """
                set logscale y
                set format y '10^{%L}'
                set xlabel 'comparison (sorted by maximum)'
                set ylabel 'difference (ulps)'
                set key top left
                set grid
                plot 'DATA' using 1:2 with points pt 7 ps 0.5 title 'median', \\
                     '' using 1:3 with points pt 5 ps 0.5 title '99th percentile', \\
                     '' using 1:4 with lines lw 2 title 'maximum'
                """)
    }
}
