import Foundation
import UNClaims
import UNStatistics

/// Report section S2: the filter's false-alarm and detection rates with exact binomial intervals.
public struct FilterRatesSection: ReportSectionBuilder {
    public let id = "claim-s2"
    public var trials: Int
    public init(trials: Int = 200) { self.trials = trials }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let fa = try StatisticalClaims.falseAlarms(trials: trials, seed: context.seed)
        let det = try StatisticalClaims.detection(trials: trials, seed: context.seed &+ 1)
        return try Self.section(fa, det, trials: trials, seed: context.seed)
    }

    static func section(
        _ fa: [StatisticalClaims.FalseAlarmRow], _ det: [StatisticalClaims.DetectionRow], trials: Int, seed: UInt64
    ) throws -> ReportSection {
        let intro = """
            Independent trials: a fresh reference-compatible (authors') or paper-mode UN layer, filtration \
            on, window M, warm-up 2M, 4 channels; 2M − 1 steps of stationary N(0,1) activations, then the \
            first filtered step — the measured one. Rates with exact Clopper–Pearson 95% intervals (GSL beta \
            quantiles). \(trials) trials per cell, seed \(seed).

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
        let theory = """
            Theory gives one value to test against: the paper's same-window rule never fires (K1), so its \
            alarm count must be 0 in every cell, spiked or not.
            """
        let paperZero =
            (fa.filter { $0.rule.hasPrefix("paper") }.allSatisfy { $0.alarms == 0 })
            && det.filter { $0.rule.hasPrefix("paper") }.allSatisfy { $0.detections == 0 }
        let authors = fa.filter { !$0.rule.hasPrefix("paper") }.map(\.rate)
        return ReportSection(
            id: "claim-s2", title: "S2: false-alarm and detection rates of the filter",
            verdict: paperZero ? .holds : .falsified,
            summary: "paper's rule: 0 alarms in all cells; authors' rule: false-alarm rate "
                + "\(String(format: "%.3f", authors.min() ?? 0))–\(String(format: "%.3f", authors.max() ?? 0))",
            blocks: [
                .text(intro), .table(falseAlarms),
                .text(
                    "**Detection against spike size** (64 tokens; the measured step's activations multiplied by the "
                        + "factor, so its statistic by the factor squared)."),
                .table(detection), .figure(figure), .text(theory),
            ],
            data: try JSONValue(encoding: [
                "falseAlarms": JSONValue(encoding: fa), "detection": JSONValue(encoding: det),
            ]))
    }
}

/// Report section S3: agreement with SciPy.
public struct SciPyAgreementSection: ReportSectionBuilder {
    public let id = "claim-s3"
    public var referencePath: String
    public init(referencePath: String = StatisticsValidation.defaultReferencePath()) {
        self.referencePath = referencePath
    }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let rows = try StatisticsValidation.run(referencePath: referencePath)
        var md =
            """
            Each routine against SciPy's value for the same fixed inputs (`Tests/Fixtures/scipy/reference.json`, \
            made by `make_scipy_reference.py` beside it), including p-values down to 1e-39 and up to 1. Relative differences.\n\n
            """
        md +=
            "| test | cases | worst statistic diff | worst p-value diff | smallest p | tolerance | note |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            md +=
                """
                | \(r.test) | \(r.cases) | \(sci(r.worstStatisticRelativeDifference)) | \
                \(sci(r.worstPValueRelativeDifference)) | \(sci(r.smallestPValue)) | \(sci(r.tolerance)) | \
                \(r.note) |\n
                """
        }
        let ok = rows.allSatisfy { $0.worstPValueRelativeDifference <= $0.tolerance }
        return ReportSection(
            id: id, title: "S3: statistics agree with SciPy", verdict: ok ? .holds : .falsified,
            summary:
                "\(rows.count) routines; worst p-value relative difference \(sci(rows.map(\.worstPValueRelativeDifference).max() ?? 0))",
            markdown: md, data: try JSONValue(encoding: rows))
    }
}
