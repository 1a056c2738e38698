import Foundation
import UNClaims
import UNStatistics

/// Claim S2 drawn: the false-alarm and detection tables and the firing-rate figure, from the run's
/// pinned examples (the report's cells).
public enum FilterRatesPresentation {
    public static func blocks(_ run: ClaimRun) throws -> [ReportBlock] {
        let (fa, det) = StatisticalClaims.filterRows(run)
        return section(fa, det, trials: StatisticalClaims.s2.examples.first?.trials ?? 0)
    }

    static func section(
        _ fa: [StatisticalClaims.FalseAlarmRow], _ det: [StatisticalClaims.DetectionRow], trials: Int
    ) -> [ReportBlock] {
        let intro = """
            Independent trials: a fresh reference-compatible (authors') or paper-mode UN layer, filtration \
            on, window M, warm-up 2M, 4 channels; 2M − 1 steps of stationary N(0,1) activations, then the \
            first filtered step — the measured one. Rates with exact Clopper–Pearson 95% intervals (GSL beta \
            quantiles). \(trials) trials per cell (the claim's pinned examples, on fixed seeds).

            **False alarms (no spike).**
            """
        let falseAlarms = ReportTable(
            columns: [
                .init("M", .integer), .init("tokens", .integer), .init("rule"), .init("alarms", .integer),
                .init("rate", .fraction), .init("95% interval low", .fraction), .init("high", .fraction),
            ],
            rows: fa.map {
                [
                    .integer($0.window), .integer($0.tokens), .text($0.rule), .integer($0.alarms), .number($0.rate),
                    .number($0.ciLow), .number($0.ciHigh),
                ]
            })
        let detection = ReportTable(
            columns: [
                .init("M", .integer), .init("rule"), .init("spike factor", .number), .init("detections", .integer),
                .init("rate", .fraction), .init("95% interval low", .fraction), .init("high", .fraction),
            ],
            rows: det.map {
                [
                    .integer($0.window), .text($0.rule), .number($0.spike), .integer($0.detections),
                    .number($0.rate), .number($0.ciLow), .number($0.ciHigh),
                ]
            })
        // One curve per (M, rule): x the spike factor, y the firing rate with its interval.
        let series = Dictionary(grouping: det) {
            "\($0.rule.hasPrefix("paper") ? "paper" : "authors"), M = \($0.window)"
        }
        let names = series.keys.sorted()
        let spikes = Array(Set(det.map(\.spike))).sorted()
        var data: [[Double]] = []
        for s in spikes {
            var row = [s]
            for n in names {
                let r = series[n]!.first { $0.spike == s }
                row += [
                    r.map { 100 * $0.rate } ?? .nan, r.map { 100 * $0.ciLow } ?? .nan,
                    r.map { 100 * $0.ciHigh } ?? .nan,
                ]
            }
            data.append(row)
        }
        let plots = names.indices.map { k in
            "'DATA' using 1:\(2 + 3 * k):\(3 + 3 * k):\(4 + 3 * k) with yerrorlines pt 7 ps 0.6 title '\(names[k])'"
        }
        let figure = ReportFigure(
            id: "filter-firing-rate", title: "How often the filter fires against spike size",
            caption: "share of trials where the filter skipped the measured step, with 95% Clopper–Pearson intervals; "
                + "64 tokens, 4 channels; factor 1 is no spike",
            columns: ["spike factor"] + names.flatMap { [$0, "\($0) low", "\($0) high"] }, rows: data,
            script: """
                set logscale x
                set xlabel 'spike factor (activations of the measured step multiplied by it)'
                set ylabel 'filter fired (%)'
                set yrange [-5:105]
                set key outside right top font ',9'
                set grid
                plot \(plots.joined(separator: ", \\\n     "))
                """)
        return [
            .text(intro), .table(falseAlarms),
            .text(
                "**Detection against spike size** (64 tokens; the measured step's activations multiplied by the "
                    + "factor, so its statistic by the factor squared)."),
            .table(detection), .figure(figure),
        ]
    }
}

/// Claim S3 drawn: one row per routine, from the run's pinned examples (the reference set).
public enum SciPyAgreementPresentation {
    public static func blocks(_ run: ClaimRun) throws -> [ReportBlock] {
        let rows = StatisticsValidation.rows(run.pinned)
        let table = ReportTable(
            columns: [
                .init("test"), .init("cases", .integer), .init("worst statistic diff", .number),
                .init("worst p-value diff", .number), .init("smallest p", .number), .init("tolerance", .number),
                .init("note"),
            ],
            rows: rows.map {
                [
                    .text($0.test), .integer($0.cases), .number($0.worstStatisticRelativeDifference),
                    .number($0.worstPValueRelativeDifference), .number($0.smallestPValue), .number($0.tolerance),
                    .text($0.note),
                ]
            })
        return [
            .text(
                """
                Each routine against SciPy's value for the same fixed inputs (`Tests/Fixtures/scipy/reference.json`, \
                made by `make_scipy_reference.py` beside it), including p-values down to 1e-39 and up to 1. Relative \
                differences.
                """),
            .table(table),
        ]
    }
}

/// Claim S1 drawn: the observed variance ratio against M with its 95% interval (the claim's
/// pinned examples), beside the line ratio = M, and the test's measured level and power.
public enum SmoothingPresentation {
    public static func blocks(_ run: ClaimRun) throws -> [ReportBlock] {
        let curve = StatisticalClaims.smoothingCurve
        let rows: [[Double]] = run.pinned.compactMap { r in
            guard r.index < curve.count, let v = r.notes["variance ratio"] else { return nil }
            return [
                Double(curve[r.index].window), v, r.notes["ratio 95% low"] ?? .nan, r.notes["ratio 95% high"] ?? .nan,
            ]
        }
        let table = ReportTable(
            columns: [
                .init("M", .integer), .init("observed Var(log σ²) / Var(log σ̂²)", .number),
                .init("95% low", .number), .init("95% high", .number),
            ],
            rows: rows.map { [.integer(Int($0[0])), .number($0[1]), .number($0[2]), .number($0[3])] })
        let figure = ReportFigure(
            id: "smoothing-variance-ratio", title: "S1: smoothing divides the variance of log σ² by M",
            caption: "observed variance ratio with a 95% interval (F, normal theory), T = 64, 4,000 windows per M; "
                + "the line is the claim, ratio = M",
            columns: ["M", "observed ratio", "95% low", "95% high"], rows: rows,
            script: """
                set xlabel 'window M'
                set ylabel 'Var(log σ²) / Var(log σ̂²)'
                set key top left
                set grid
                set xrange [0:17]
                set yrange [0:18]
                plot x with lines lw 1 dt 2 title 'claim: ratio = M', \\
                     'DATA' using 1:2:3:4 with yerrorbars pt 7 ps 0.7 title 'observed (95% interval)'
                """)
        let cases = run.notes["cases"] ?? 0
        let level = (run.notes["right M rejected at 0.05"] ?? 0) / max(cases, 1)
        let power = (run.notes["wrong M (2M) rejected at 0.05"] ?? 0) / max(cases, 1)
        return [
            .table(table), .figure(figure),
            .text(
                """
                Across all \(Int(cases)) cases the Brown–Forsythe test rejected the right M at level 0.05 in \
                \(String(format: "%.1f%%", 100 * level)) of them (its level: about 5% is right) and the wrong \
                factor 2M in \(String(format: "%.1f%%", 100 * power)) (its power).
                """),
        ]
    }
}
