import Foundation
import GradientCheck
import UNClaims

/// The G5 map drawn from a run of claim G5 (its pinned examples are the map's cells).
public enum GradientMapPresentation {
    public static func blocks(_ run: ClaimRun) throws -> [ReportBlock] { section(GradientMap.rows(run)).blocks }

    /// The G5 map as a typed table.
    public static func table(_ rows: [GradientMap.Row]) -> ReportTable {
        ReportTable(
            columns: [
                .init("layer"), .init("regime"), .init("padded"), .init("precision"),
                .init("∂X deviation", .number), .init("∂γ deviation", .number), .init("∂β deviation", .number),
                .init("exact?"), .init("meant exact?"),
            ],
            rows: rows.map { r in
                [
                    .text(r.layer), .text(r.regime), .text(r.padded ? "yes" : "no"), .text(r.precision),
                    .number(r.inputDeviation), .number(r.weightDeviation), .number(r.biasDeviation),
                    .text(r.outcome == .pass ? "yes" : (r.outcome == .fail ? "**no**" : "undecided")),
                    .text(r.designedExact ? "yes" : "no"),
                ]
            })
    }

    static func section(_ rows: [GradientMap.Row]) -> (blocks: [ReportBlock], summary: String) {
        let bad = rows.filter { !$0.consistent }
        let undecided = rows.filter { $0.designedExact && $0.outcome == .inconclusive }
        let md =
            """
            Spec claim G5. For each layer, mode and regime, the hand-written backward is compared with the \
            numerical gradient of `x ↦ ⟨∂L/∂Y, forward(x)⟩` at the same state (history held fixed), by \
            `GradientChecker` (Richardson extrapolation, per-entry error bounds). *Deviation* is `max|backward − \
            numerical| / max|numerical|`; *exact* means every entry agreed within the checker's bound, with that \
            bound at most 1e-6 (Double) or 1e-2 (Float) of the gradient's largest entry (G5 is a normwise \
            question, so each entry's rounding allowance and resolution are measured against that magnitude); \
            *undecided* means no entry disagreed but some could not be resolved that finely. The map's cells \
            are the claim's pinned examples, on fixed data seeds; the generated cases counted above draw cells \
            at random with fresh data.\n\n
            """
        let after =
            """
            Reading the map: LayerNorm, RMSNorm, BatchNorm and UN in paper mode with the exact option are exact \
            in every regime. The paper mode's calibrated backward is exact in warm-up and with window 1 (ψ is \
            then the current g_σ) and an approximation once smoothing starts. The authors' code \
            (reference-compatible) is exact only on a skip without padding; elsewhere the moving average of g_σ, \
            the factor `r` (which also scales ∂γ), and padded positions inside the backward means make it an \
            approximation by design. PowerNorm's backward is an approximation in both regimes.\n
            """
        return (
            [.text(md), .table(table(rows)), .text(after), .figure(heatMap(rows))],
            "\(rows.count) cells; \(rows.filter(\.exact).count) exact; \(bad.count) meant-exact backward(s) not exact; "
                + "\(undecided.count) meant-exact undecided"
        )
    }

    /// The G5 map as a heat map: one row per layer, one column per regime × padding × precision, the
    /// colour `log₁₀` of the input-gradient deviation (exact backwards at the bottom of the scale).
    static func heatMap(_ rows: [GradientMap.Row]) -> ReportFigure {
        // Rows: layer and regime (each layer has its own regimes); columns: precision and padding.
        let rowKey: (GradientMap.Row) -> String = { "\($0.layer): \($0.regime)" }
        let layers = rows.map(rowKey).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let key: (GradientMap.Row) -> String = { "\($0.precision)\($0.padded ? ", padded" : "")" }
        let columns = rows.map(key).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var data: [[Double]] = []
        for r in rows {
            guard let y = layers.firstIndex(of: rowKey(r)), let x = columns.firstIndex(of: key(r)) else { continue }
            data.append([Double(x), Double(y), log10(max(r.inputDeviation, 1e-17))])
        }
        func tics(_ names: [String]) -> String {
            names.enumerated().map { "\"\($0.element.replacingOccurrences(of: "\"", with: "'"))\" \($0.offset)" }
                .joined(separator: ", ")
        }
        return ReportFigure(
            id: "gradient-map", title: "G5: deviation of each backward from the gradient of its forward",
            caption: "log₁₀ of max|backward − numerical| / max|numerical| for ∂X; blank: that combination not run",
            columns: ["regime index", "layer index", "log10 deviation"], rows: data,
            script: """
                set terminal svg size 900,\(160 + 22 * layers.count) dynamic enhanced font 'Helvetica,11' background \
                rgb 'white'
                set output 'gradient-map.svg'
                set xrange [-0.5:\(Double(columns.count) - 0.5)]
                set yrange [-0.5:\(Double(layers.count) - 0.5)]
                set xtics (\(tics(columns))) font ',9'
                set ytics (\(tics(layers))) font ',9'
                set cbrange [-17:0]
                set cblabel 'log10 deviation'
                set palette defined (-17 '#f7fbff', -8 '#6baed6', -3 '#fd8d3c', 0 '#a50f15')
                set lmargin 46
                unset key
                plot 'DATA' using 1:2:3 with image pixels
                """)
    }
}

/// Report section: the gradient checker's measured accuracy and detection power.
public struct CheckerAccuracySection: ReportSectionBuilder {
    public let id = "checker-accuracy"
    public var points: Int
    public init(points: Int = 30) { self.points = points }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let rows =
            try CheckerAccuracySuite.run(Double.self, points: points, seed: context.seed)
            + CheckerAccuracySuite.run(Float.self, points: points, seed: context.seed)
        return try Self.section(rows, seed: context.seed, points: points)
    }

    /// The accuracy suite as a typed table.
    public static func table(_ rows: [CheckerAccuracySuite.Row]) -> ReportTable {
        ReportTable(
            columns: [
                .init("function"), .init("precision"), .init("entries", .integer),
                .init("median rel. error", .number), .init("max rel. error", .number),
                .init("median est. rel. error", .number), .init("est. ≥ true", .fraction),
                .init("evals/entry", .number), .init("right gradient: pass", .integer),
                .init("undecided", .integer), .init("false alarms", .integer),
            ],
            rows: rows.map { r in
                [
                    .text(r.function), .text(r.precision), .integer(r.entries), .number(r.medianRelativeError),
                    .number(r.maxRelativeError), .number(r.medianEstimatedRelativeError),
                    .number(r.estimateCoversTrueError), .number(r.evaluationsPerEntry), .integer(r.rightPassed),
                    .integer(r.rightInconclusive), .integer(r.falseAlarms),
                ]
            })
    }

    /// The checker's error estimate against the true error, per entry (log–log, the diagonal drawn):
    /// points above the diagonal are entries whose estimate covers the truth.
    public static func estimateFigure(_ rows: [CheckerAccuracySuite.Row]) -> ReportFigure {
        var data: [[Double]] = []
        for r in rows where r.smooth {
            for p in r.samples where p[0] > 0 && p[1] > 0 {
                data.append([p[0], r.precision == "Double" ? p[1] : .nan, r.precision == "Float" ? p[1] : .nan])
            }
        }
        return ReportFigure(
            id: "checker-estimate-vs-true", title: "Error estimate against true error (smooth functions)",
            caption: "each point an entry of a numerical gradient; above the line the estimate covers the true error",
            columns: ["true relative error", "estimate (Double)", "estimate (Float)"], rows: data,
            script: """
                set logscale xy
                set format x '10^{%L}'
                set format y '10^{%L}'
                set xlabel 'true relative error'
                set ylabel 'estimated relative error'
                set key top left
                set grid
                plot 'DATA' using 1:2 with points pt 7 ps 0.4 lc rgb '#1f77b4' title 'Double', \
                     '' using 1:3 with points pt 7 ps 0.4 lc rgb '#d62728' title 'Float', \
                     x with lines lc rgb 'black' dt 2 title 'estimate = true error'
                """)
    }

    /// Detection rate per planted size, one row per function and precision.
    public static func powerTable(_ rows: [DetectionPower.Row]) -> ReportTable {
        let ks = rows.first?.cells.compactMap(\.exponent) ?? []
        return ReportTable(
            columns: [.init("function"), .init("precision")] + ks.map { .init("1e-\($0)", .fraction) } + [
                .init("smallest detected ≥ 99%", .number), .init("false alarms: right"),
                .init("at unplanted entries", .integer),
            ],
            rows: rows.map { r in
                let rates: [ReportTable.Cell] = ks.map { k in
                    guard let c = r.cells.first(where: { $0.exponent == k }), c.trials > 0 else { return .missing }
                    return .number(c.detectionRate)
                }
                return [.text(r.function), .text(r.precision)] + rates + [
                    r.smallestDetected99.map { .number($0) } ?? .text("none"),
                    .text("\(r.rightFalseAlarms)/\(r.rightTrials)"), .integer(r.falseAlarms - r.rightFalseAlarms),
                ]
            })
    }

    /// Detection rate against planted size, one curve per function, for one precision.
    public static func powerFigure(_ rows: [DetectionPower.Row], precision: String) -> ReportFigure {
        let sel = rows.filter { $0.precision == precision }
        let ks = sel.first?.cells.compactMap(\.exponent) ?? []
        let data = ks.map { k -> [Double] in
            [DetectionPower.pow10(-k)]
                + sel.map { r in
                    guard let c = r.cells.first(where: { $0.exponent == k }), c.trials > 0 else { return .nan }
                    return 100 * c.detectionRate
                }
        }
        let target = precision == "Double" ? "1e-8" : "1e-3"
        return ReportFigure(
            id: "checker-power-\(precision.lowercased())", title: "Detection power, \(precision)",
            caption: "share of single-entry planted errors of each relative size caught as a mismatch at that entry "
                + "(target: \(target) in ≥ 99% of trials)",
            columns: ["planted relative error"] + sel.map { $0.function.replacingOccurrences(of: ",", with: ";") },
            rows: data,
            script: """
                set logscale x
                set format x '10^{%L}'
                set xrange [*:*] reverse
                set yrange [0:105]
                set xlabel 'planted relative error'
                set ylabel 'detected (%)'
                set key outside right top font ',9'
                set grid
                set arrow from \(target), graph 0 to \(target), graph 1 nohead dt 2 lc rgb 'gray40'
                plot for [i=2:\(sel.count + 1)] 'DATA' using 1:i with linespoints pt 7 ps 0.5 title columnhead(i)
                """)
    }

    /// The detection targets: smallest planted error detected in ≥ 99% of trials at most 1e-8
    /// (Double) or 1e-3 (Float) on every smooth function, and no false alarm anywhere.
    public static func powerTargetsMet(_ rows: [DetectionPower.Row]) -> [String] {
        rows.compactMap { r in
            let target = r.precision == "Double" ? 1e-8 : 1e-3
            if r.falseAlarms > 0 { return "\(r.function) (\(r.precision)): \(r.falseAlarms) false alarm(s)" }
            guard let s = r.smallestDetected99, s <= target * (1 + 1e-9) else {
                return
                    """
                    \(r.function) (\(r.precision)): smallest detected ≥ 99% is \
                    \(r.smallestDetected99.map { sci($0) } ?? "none"), target \(sci(target))
                    """
            }
            return nil
        }
    }

    static func section(_ rows: [CheckerAccuracySuite.Row], seed: UInt64, points: Int) throws -> ReportSection {
        let smoothD = rows.filter { $0.smooth && $0.precision == "Double" }
        let medianOK = smoothD.allSatisfy { $0.medianRelativeError <= 1e-13 }
        let cov =
            smoothD.reduce(0.0) { $0 + $1.estimateCoversTrueError * Double($1.entries) }
            / Double(max(smoothD.reduce(0) { $0 + $1.entries }, 1))
        let accepted = rows.filter(\.smooth).allSatisfy { $0.falseAlarms == 0 }
        let intro = """
            Functions with known derivatives at \(points) random points each (seed \(seed)), default \
            settings. *True error* is against the exact derivative; *est.* is the checker's own error \
            estimate. Targets (Double, smooth functions): median relative error ≤ 1e-13, estimate ≥ true \
            error on ≥ 99% of entries, no right gradient failed. A right gradient is *undecided* when some \
            entry could not be resolved to half the checker's resolution (1e-6 of itself in Double, 1e-3 in \
            Float); it is then not reported as a pass.
            """
        let cancellation = """
            The cancellation function (`cos x − 1 + x²/2` near 0) is a stress case outside the targets: its \
            values are rounding noise of size `u` around a quantity of size `x⁴/24`, so no finite difference \
            can resolve its derivative to full accuracy (the checker's README states the measured limit).
            """
        return ReportSection(
            id: "checker-accuracy", title: "Gradient checker accuracy",
            verdict: medianOK && cov >= 0.99 && accepted ? .holds : .falsified,
            summary: "Double smooth: worst median rel. error \(sci(smoothD.map(\.medianRelativeError).max() ?? 0)), "
                + "estimate covers true error on \(String(format: "%.2f%%", 100 * cov)) of entries",
            blocks: [.text(intro), .table(table(rows)), .text(cancellation), .figure(estimateFigure(rows))],
            data: try JSONValue(encoding: rows))
    }
}

/// Report section: the gradient checker's measured detection power (planted single-entry errors).
public struct CheckerPowerSection: ReportSectionBuilder {
    public let id = "checker-power"
    /// Trials per cell.
    public var trials: Int
    public init(trials: Int = 200) { self.trials = trials }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let rows =
            try DetectionPower.run(Double.self, trials: trials, seed: context.seed)
            + DetectionPower.run(Float.self, trials: trials, seed: context.seed)
        return try Self.section(rows, seed: context.seed)
    }

    static func section(_ power: [DetectionPower.Row], seed: UInt64) throws -> ReportSection {
        let missed = CheckerAccuracySection.powerTargetsMet(power)
        let alarms = power.reduce(0) { $0 + $1.falseAlarms }
        let checks = power.reduce(0) { $0 + $1.cells.reduce(0) { $0 + $1.trials } }
        let trials = power.first?.cells.first?.trials ?? 0
        let intro = """
            One entry of the right gradient multiplied by `1 ± 10⁻ᵏ` at each of \(trials) seeded points per \
            cell (seed \(seed); the entry and the sign drawn at random); *detected* means the check failed \
            with a mismatch at that entry. A cell is blank where the planted value rounds to the right one in \
            that precision. *False alarms* count failures of right gradients, and failures at an entry that \
            was not planted. Targets: 1e-8 detected in ≥ 99% of trials for every smooth Double function, \
            1e-3 for every smooth Float function, no false alarm. The side-by-side with torch's `gradcheck` is \
            in `Benchmarks/gradcheck-power/` (committed results and the script that made them).
            """
        let verdictText =
            missed.isEmpty ? "Every target is met." : "Targets not met: " + missed.joined(separator: "; ") + "."
        let note = """
            Where a Float plant is missed, the check ended *undecided* (never *pass*) in most trials: the \
            entry's band at that point, set by Float's rounding of the function, is wider than the plant (for \
            example `cos x` near ±π/2 for `sin`, or `1 + x²` rounding for `log(1+x²)` near 0).
            """
        return ReportSection(
            id: "checker-power", title: "Gradient checker detection power",
            verdict: alarms > 0 || !missed.isEmpty ? .falsified : .holds,
            summary: "\(checks) checks, \(alarms) false alarm(s); targets "
                + (missed.isEmpty ? "met" : "missed in \(missed.count) of \(power.count) rows"),
            blocks: [
                .text(intro), .table(CheckerAccuracySection.powerTable(power)), .text(verdictText), .text(note),
                .figure(CheckerAccuracySection.powerFigure(power, precision: "Double")),
                .figure(CheckerAccuracySection.powerFigure(power, precision: "Float")),
            ],
            data: try JSONValue(encoding: power))
    }
}
