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
        var md = "Independent trials: a fresh reference-compatible (authors') or paper-mode UN layer, filtration on, window M, warm-up 2M, 4 channels; 2M − 1 steps of stationary N(0,1) activations, then the first filtered step — the measured one. Rates with exact Clopper–Pearson 95% intervals (GSL beta quantiles). \(trials) trials per cell, seed \(context.seed).\n\n"
        md += "**False alarms (no spike).**\n\n| M | tokens | rule | alarms | rate | 95% interval |\n|---|---|---|---|---|---|\n"
        for r in fa { md += "| \(r.window) | \(r.tokens) | \(r.rule) | \(r.alarms)/\(r.trials) | \(String(format: "%.3f", r.rate)) | [\(String(format: "%.3f", r.ciLow)), \(String(format: "%.3f", r.ciHigh))] |\n" }
        md += "\n**Detection against spike size** (authors' rule, M = 4, 64 tokens; the measured step's activations multiplied by the factor, so its statistic by the factor squared).\n\n| factor | detections | rate | 95% interval |\n|---|---|---|---|\n"
        for r in det { md += "| ×\(r.spike) | \(r.detections)/\(r.trials) | \(String(format: "%.3f", r.rate)) | [\(String(format: "%.3f", r.ciLow)), \(String(format: "%.3f", r.ciHigh))] |\n" }
        md += "\nTheory gives one value to test against: the paper's same-window rule never fires (K1), so its alarm count must be 0 in every cell.\n"
        let paperZero = fa.filter { $0.rule.hasPrefix("paper") }.allSatisfy { $0.alarms == 0 }
        return ReportSection(id: id, title: "S2: false-alarm and detection rates of the filter", verdict: paperZero ? .holds : .falsified,
                             summary: "paper's rule: 0 alarms in all cells; authors' rule: false-alarm rate \(String(format: "%.3f", fa.filter { !$0.rule.hasPrefix("paper") }.map(\.rate).min() ?? 0))–\(String(format: "%.3f", fa.filter { !$0.rule.hasPrefix("paper") }.map(\.rate).max() ?? 0))",
                             markdown: md, data: (try? JSONValue(encoding: ["falseAlarms": JSONValue(encoding: fa), "detection": JSONValue(encoding: det)])) ?? .null)
    }
}

/// Report section S3: agreement with SciPy.
public struct SciPyAgreementSection: ReportSectionBuilder {
    public let id = "claim-s3"
    public var referencePath: String
    public init(referencePath: String = StatisticsValidation.defaultReferencePath()) { self.referencePath = referencePath }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let rows = try StatisticsValidation.run(referencePath: referencePath)
        var md = "Each routine against SciPy's value for the same fixed inputs (`Tests/Fixtures/scipy/reference.json`, made by `make_scipy_reference.py` beside it), including p-values down to 1e-39 and up to 1. Relative differences.\n\n"
        md += "| test | cases | worst statistic diff | worst p-value diff | smallest p | tolerance | note |\n|---|---|---|---|---|---|---|\n"
        for r in rows { md += "| \(r.test) | \(r.cases) | \(sci(r.worstStatisticRelativeDifference)) | \(sci(r.worstPValueRelativeDifference)) | \(sci(r.smallestPValue)) | \(sci(r.tolerance)) | \(r.note) |\n" }
        let ok = rows.allSatisfy { $0.worstPValueRelativeDifference <= $0.tolerance }
        return ReportSection(id: id, title: "S3: statistics agree with SciPy", verdict: ok ? .holds : .falsified,
                             summary: "\(rows.count) routines; worst p-value relative difference \(sci(rows.map(\.worstPValueRelativeDifference).max() ?? 0))",
                             markdown: md, data: (try? JSONValue(encoding: rows)) ?? .null)
    }
}
