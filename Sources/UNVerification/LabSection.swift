import Foundation
import UNLab
import UNStatistics

/// Report section: the committed training-lab studies (`lab-results/digits-study/study.json` and
/// `lab-results/text-study/study.json`, made by `unverify lab --task digits|text`), read and judged,
/// never retrained. The paper's empirical claims, tried on a tiny ViT on the 8 × 8 digits and a tiny
/// byte-level language model on padded English sentences, across seeds with the statistics module:
/// L1 BatchNorm is worse than LayerNorm; L2 UN is on par with LayerNorm; L3 at a raised learning
/// rate, divergence counts per norm and whether filtration lowers UN's; L4 statistics fluctuate over
/// iterations, more on padded text than on images, and UN's smoothed statistic less (by S1's factor
/// 1/M?); L5 where UN's filter fires and whether with loss spikes; LF every trained BN/PowerNorm/UN
/// model folded gives the unfolded predictions within F2's bound. Each has its own verdict (holds,
/// falsified, or inconclusive at this scale, with the effect the test could detect); the section is
/// informational in the report's overall verdict, since studies of this size cannot settle claims
/// made about IWSLT14 and ImageNet (said in the section).
public struct LabSection: ReportSectionBuilder {
    public let id = "lab"
    /// The studies read, one per task.
    public var paths: [String]
    public static let defaultPaths = ["lab-results/digits-study/study.json", "lab-results/text-study/study.json"]
    public init(paths: [String] = LabSection.defaultPaths) { self.paths = paths }
    public init(path: String) { paths = [path] }

    /// L2's equivalence margin on digits: 2 percentage points of test accuracy. Why: the test split has 359
    /// images, so one image is 0.28 points and the binomial standard deviation of an accuracy near
    /// 90% is √(0.9·0.1/359) = 1.6 points: differences below about 2 points are the test set's own
    /// sampling noise, finer "on par" cannot be resolved with it. (The paper's own UN–LN gaps are
    /// 0.1 BLEU and 0.6 top-1 points, its BN–LN gaps 4.2 BLEU and 1.7 points.)
    public static let margin = 0.02
    /// L2's margin on text, relative to LayerNorm's mean test bits per token: 2%, the digits margin's
    /// relative size (2 points of about 90%), a sixth of the paper's relative BN–LN gap on IWSLT14
    /// (4.2 of 35.3 BLEU, 12%) and 20 times its UN–LN gap (0.1 BLEU, 0.3%).
    public static let textRelativeMargin = 0.02
    /// L4c's band around S1's factor `1/M`: ×/÷ 1.25, the ratio between `1/M` for `M = 4` and for
    /// `M = 5` (S1 must tell the window size from its neighbour).
    public static let s1Band = 1.25
    public static let alpha = 0.05

    /// One claim's outcome (`task` nil for a claim across tasks).
    public struct Claim: Codable, Sendable {
        public var id: String
        public var task: String?
        public var statement: String
        public var verdict: String
        public var evidence: String
        public init(id: String, task: String? = nil, statement: String, verdict: String, evidence: String) {
            self.id = id
            self.task = task
            self.statement = statement
            self.verdict = verdict
            self.evidence = evidence
        }
        var label: String { task.map { "\(id) (\($0))" } ?? id }
    }

    static let undecided = "inconclusive at this scale"

    func load(_ path: String) throws -> LabStudyRecord {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ReportInputError(file: path, reason: "unreadable: \(error.localizedDescription)")
        }
        let study: LabStudyRecord
        do { study = try JSONDecoder().decode(LabStudyRecord.self, from: data) } catch {
            throw ReportInputError(file: path, reason: "not a lab study: \(error)")
        }
        guard study.schemaVersion == LabStudyRecord.currentSchemaVersion else {
            throw ReportInputError(
                file: path,
                reason: "schema version \(study.schemaVersion), expected \(LabStudyRecord.currentSchemaVersion)")
        }
        return study
    }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let studies = try paths.map(load)
        let tasks = studies.map(\.configuration.task)
        guard Set(tasks).count == tasks.count else {
            throw ReportInputError(file: paths.joined(separator: ", "), reason: "two studies of the same task")
        }
        var blocks: [ReportBlock] = []
        var claims: [Claim] = []
        var figures: [ReportFigure] = []
        for (path, study) in zip(paths, studies) {
            let (b, c, f) = try taskPart(study, path: path)
            blocks += b
            claims += c
            figures += f
        }
        claims += try Self.fluctuationAcrossTasks(studies)
        claims += studies.map { (try? Self.smoothing($0)) ?? [] }.flatMap { $0 }
        claims.append(Self.foldClaim(studies))
        claims.sort { ($0.id, $0.task ?? "") < ($1.id, $1.task ?? "") }
        let claimTable = ReportTable(
            columns: [.init("claim"), .init("statement"), .init("verdict"), .init("evidence")],
            rows: claims.map { [.text($0.label), .text($0.statement), .text($0.verdict), .text($0.evidence)] })
        let summary = claims.map { "\($0.label) \($0.verdict)" }.joined(separator: ", ")
        let runs = studies.reduce(0) { $0 + $1.runs.count }
        let sizes = studies.map { s in
            let c = s.configuration
            return "\(c.task.rawValue): width \(c.width), \(c.heads) heads, \(c.layers) blocks, \(c.steps) steps"
        }.joined(separator: "; ")
        return ReportSection(
            id: id, title: "Training lab: the paper's empirical claims on tiny Transformers (recorded studies)",
            verdict: .informational,
            summary: "\(summary); \(runs) runs",
            blocks: blocks + [
                .table(claimTable), .table(try Self.inferenceTable(studies)),
                .text(
                    """
                    What models of this size cannot tell (\(sizes)): the paper's gaps come from 12-layer \
                    Transformers trained for hundreds of thousands of steps on IWSLT14 and ImageNet, where activation \
                    statistics drift and outliers grow over training; these models see neither, so "inconclusive at \
                    this scale" or a small gap here says nothing against the paper's numbers, and a gap here would \
                    not show one there. L4 compares two different models and data sets (the text task also has \
                    padding, a causal mask and smaller batches), so a difference between tasks is not due to padding \
                    alone. The inference times are Double-precision CPU times of models of width \
                    \(studies.first?.configuration.width ?? 0), where attention and the linear layers dominate and a \
                    norm costs little: they say nothing about the paper's GPU figures (31% faster inference, 18% \
                    less memory on ViT-B), which no GPU here could measure. The section is informational in the \
                    report's overall verdict for these reasons; each claim's own verdict is above.
                    """),
            ] + figures.map { .figure($0) } + (try Self.statisticsFigures(studies)).map { .figure($0) },
            data: try JSONValue(encoding: claims))
    }

    static func metricName(_ t: LabTask) -> String { t == .digits ? "test accuracy" : "test bits per token" }

    /// A difference of scores in the metric's unit (points of accuracy, or bits).
    static func amount(_ t: LabTask, _ v: Double) -> String {
        t == .digits ? "\(pct(v)) points" : (v.isFinite ? String(format: "%.4f bits", v) : "—")
    }

    /// One task's table, claims L1–L3 and L5, and loss figure.
    func taskPart(_ study: LabStudyRecord, path: String) throws -> ([ReportBlock], [Claim], [ReportFigure]) {
        let c = study.configuration
        let task = c.task
        let base = c.learningRates.min()!
        let raised = c.learningRates.max()!
        func scores(_ n: LabNorm, _ lr: Double) -> [Double] {
            study.runs.filter { $0.key.norm == n && $0.key.learningRate == lr }.compactMap(\.score)
        }
        func divergences(_ n: LabNorm, _ lr: Double) -> (Int, Int) {
            let r = study.runs.filter { $0.key.norm == n && $0.key.learningRate == lr }
            return (r.filter(\.diverged).count, r.count)
        }
        var rows: [[ReportTable.Cell]] = []
        for n in c.norms {
            let a = scores(n, base).map { task == .digits ? $0 : -$0 }
            let (m, half) = try Self.meanInterval(a)
            let (d0, t0) = divergences(n, base)
            let (d1, t1) = divergences(n, raised)
            let ci = try HypothesisTests.clopperPearson(successes: d1, trials: max(t1, 1))
            let fl = study.runs.filter { $0.key.norm == n && $0.key.learningRate == base }.compactMap(Self.fluctuation)
            rows.append([
                .text(n.rawValue), .integer(a.count), .number(m), .number(half), .text("\(d0)/\(t0)"),
                .text("\(d1)/\(t1) [\(Self.fmt(ci.low)), \(Self.fmt(ci.high))]"),
                fl.isEmpty ? .missing : .number(try Description.quantile(fl, 0.5)),
            ])
        }
        let kind: ReportTable.Column.Kind = task == .digits ? .fraction : .number
        let table = ReportTable(
            columns: [
                .init("norm"), .init("runs", .integer), .init("\(Self.metricName(task)), mean", kind),
                .init("± 95% interval", kind), .init("diverged at lr \(base)"),
                .init("diverged at lr \(raised) [95% Clopper–Pearson]"),
                .init("step-to-step fluctuation of ln σ², median", .number),
            ],
            rows: rows)
        let claims =
            try judge(task: task, scores: scores, divergences: divergences, base: base, raised: raised)
            + [Self.firings(study.runs.filter { $0.key.norm == .un }, layers: c.layers, task: task)]
        let data =
            task == .digits
            ? "a ViT on 2 × 2 patches of the 8 × 8 digits (1,438 training, 359 test images), batch \(c.batchSize)"
            : "a causal byte-level language model on WordNet 3.0's example sentences of at most "
                + "\(LabStudyConfiguration.maxSentenceBytes) bytes, right-padded batches of \(c.batchSize)"
        let text = ReportBlock.text(
            """
            **\(task.rawValue)** — from `\(path)`: \(study.runs.count) of \(c.runs.count) runs (\(c.norms.count) \
            norms × \(c.seeds.count) seeds × learning rates \
            \(c.learningRates.map { "\($0)" }.joined(separator: ", "))), \
            \(data); width \(c.width), \(c.heads) heads, \(c.layers) blocks, \(c.steps) AdamW steps. Made by \
            `\(study.command)` at commit \(study.commit) on \(study.machine), \(study.date); the report reads it and \
            never retrains. The \(Self.metricName(task)) is measured in inference mode (BN, PowerNorm and UN with \
            their running statistics). The fluctuation is the root mean square over channels and steps (from step \
            \(c.statisticsFromStep)) of ln σ²(t) − ln σ²(t − 1), σ² each channel's variance of a norm's input over \
            the batch's real tokens, averaged over the \(2 * c.layers + 1) norm layers (0.1 ≈ 10% per step).
            """)
        return ([text, .table(table)], claims, [try lossFigure(study, base: base)])
    }

    func judge(
        task: LabTask, scores: (LabNorm, Double) -> [Double], divergences: (LabNorm, Double) -> (Int, Int),
        base: Double, raised: Double
    ) throws -> [Claim] {
        var out: [Claim] = []
        let t = task.rawValue
        let ln = scores(.layerNorm, base)
        let bn = scores(.batchNorm, base)
        let un = scores(.un, base)
        let worseText =
            task == .digits
            ? "BatchNorm gives a lower test accuracy than LayerNorm"
            : "BatchNorm gives a higher test bits per token than LayerNorm"
        // L1: one-sided Welch on the scores (higher is better), LN > BN.
        if ln.count >= 2, bn.count >= 2 {
            let worse = try HypothesisTests.welchGreater(ln, bn)
            let better = try HypothesisTests.welchGreater(bn, ln)
            let gap = Self.mean(ln) - Self.mean(bn)
            let mde = try Self.detectable(ln, bn)
            let verdict =
                worse.pValue < Self.alpha ? "holds" : (better.pValue < Self.alpha ? "falsified" : Self.undecided)
            out.append(
                Claim(
                    id: "L1", task: t, statement: worseText, verdict: verdict,
                    evidence: "gap (LN better by) \(Self.amount(task, gap)), one-sided Welch p = "
                        + "\(Self.fmt(worse.pValue)) (ν = \(Self.fmt(worse.degreesOfFreedom ?? .nan))); detectable "
                        + "gap at 80% power \(Self.amount(task, mde))"))
        } else {
            out.append(
                Claim(
                    id: "L1", task: t, statement: worseText, verdict: Self.undecided,
                    evidence: "fewer than two completed runs of LN or BN"))
        }
        // L2: TOST with the task's margin.
        let margin = task == .digits ? Self.margin : Self.textRelativeMargin * abs(Self.mean(ln))
        let marginText = task == .digits ? "±2 points" : "±2% of LN's bits per token"
        if ln.count >= 2, un.count >= 2 {
            let tost = try HypothesisTests.equivalence(un, ln, margin: margin)
            let diff = Self.mean(un) - Self.mean(ln)
            let two = try HypothesisTests.twoSampleT(un, ln, equalVariances: false)
            // 90% interval of the difference (the TOST's own): diff ± t_{0.95,ν}·se, se = diff / t.
            let nu = two.degreesOfFreedom ?? 1
            let se = two.statistic != 0 ? abs(diff / two.statistic) : 0
            let tq = try Self.tQuantile(0.05, nu: nu)
            let (lo, hi) = (diff - tq * se, diff + tq * se)
            let outside = lo > margin || hi < -margin
            let verdict = tost.pValue < Self.alpha ? "holds" : (outside ? "falsified" : Self.undecided)
            out.append(
                Claim(
                    id: "L2", task: t,
                    statement: "UN is on par with LayerNorm (\(Self.metricName(task)) within "
                        + "\(marginText))", verdict: verdict,
                    evidence: "UN better than LN by \(Self.amount(task, diff)), 90% interval "
                        + "[\(Self.amount(task, lo)), \(Self.amount(task, hi))], TOST p = \(Self.fmt(tost.pValue)), "
                        + "margin ±\(Self.amount(task, margin))"))
        } else {
            out.append(
                Claim(
                    id: "L2", task: t, statement: "UN on par with LN", verdict: Self.undecided,
                    evidence: "fewer than two completed runs of LN or UN"))
        }
        // L3: divergences at the raised rate; does filtration lower UN's count? One-sided Fisher exact.
        let (f, nf) = divergences(.un, raised)
        let (u, nu) = divergences(.unWithoutFiltration, raised)
        let p = Self.fisherLess(f, nf, u, nu)
        let pMore = Self.fisherLess(u, nu, f, nf)
        let counts = LabNorm.allCases.map { n -> String in
            let (d, t) = divergences(n, raised)
            return "\(n.rawValue) \(d)/\(t)"
        }.joined(separator: ", ")
        let verdict = p < Self.alpha ? "holds" : (pMore < Self.alpha ? "falsified" : Self.undecided)
        out.append(
            Claim(
                id: "L3", task: t, statement: "at a raised learning rate, filtration lowers UN's divergence count",
                verdict: verdict,
                evidence: "diverged at lr \(raised): \(counts); UN with filtration \(f)/\(nf) against without "
                    + "\(u)/\(nu), one-sided Fisher exact p = \(Self.fmt(p))"))
        return out
    }

    /// A run's fluctuation: the mean over its norm layers of ``LabLayerStatistics/fluctuation``.
    static func fluctuation(_ r: LabRunResult) -> Double? {
        guard let s = r.statistics, !s.isEmpty else { return nil }
        let v = s.map(\.fluctuation).filter(\.isFinite)
        return v.isEmpty ? nil : mean(v)
    }

    /// L4a: the runs' fluctuation at the base rate, text against digits, one-sided Welch.
    static func fluctuationAcrossTasks(_ studies: [LabStudyRecord]) throws -> [Claim] {
        let statement = "activation statistics fluctuate more from step to step on the padded text task than on images"
        func values(_ t: LabTask) -> [Double] {
            guard let s = studies.first(where: { $0.configuration.task == t }) else { return [] }
            let base = s.configuration.learningRates.min()!
            return s.runs.filter { $0.key.learningRate == base }.compactMap(fluctuation)
        }
        let (text, digits) = (values(.text), values(.digits))
        guard text.count >= 2, digits.count >= 2 else {
            return [
                Claim(
                    id: "L4a", statement: statement, verdict: undecided,
                    evidence: "needs both tasks' studies with recorded statistics (text \(text.count), digits "
                        + "\(digits.count) runs)")
            ]
        }
        let more = try HypothesisTests.welchGreater(text, digits)
        let less = try HypothesisTests.welchGreater(digits, text)
        let verdict = more.pValue < alpha ? "holds" : (less.pValue < alpha ? "falsified" : undecided)
        return [
            Claim(
                id: "L4a", statement: statement, verdict: verdict,
                evidence: "per-run fluctuation of ln σ² (mean over layers, every norm, base rate): text median "
                    + "\(fmt(try Description.quantile(text, 0.5))) (\(text.count) runs), digits "
                    + "\(fmt(try Description.quantile(digits, 0.5))) (\(digits.count) runs); one-sided Welch p = "
                    + "\(fmt(more.pValue)); detectable difference at 80% power \(fmt(try detectable(text, digits)))")
        ]
    }

    /// L4b and L4c on one task: per UN run (both UN variants, base rate), the mean over layers of
    /// `ln(v̂_smoothed / v̂_raw)` (``LabLayerStatistics``); one-sided t test below 0, and S1's `ln(1/M)`
    /// against the 95% interval.
    static func smoothing(_ study: LabStudyRecord) throws -> [Claim] {
        let c = study.configuration
        let t = c.task.rawValue
        let m = Double(LabStudyConfiguration.unWindow)
        let base = c.learningRates.min()!
        let logs: [Double] = study.runs.filter {
            ($0.key.norm == .un || $0.key.norm == .unWithoutFiltration) && $0.key.learningRate == base
        }.compactMap { r in
            let v = (r.statistics ?? []).compactMap { s -> Double? in
                guard let a = s.smoothedLogVariance, let b = s.rawLogVariance, a > 0, b > 0 else { return nil }
                return Double.log(a / b)
            }
            return v.isEmpty ? nil : mean(v)
        }
        // Per layer: the geometric mean over the same runs (where S1 holds and where it does not).
        let unRuns = study.runs.filter {
            ($0.key.norm == .un || $0.key.norm == .unWithoutFiltration) && $0.key.learningRate == base
        }.compactMap(\.statistics)
        let perLayer = layerNames(c.layers).indices.compactMap { l -> String? in
            let v = unRuns.compactMap { r -> Double? in
                guard l < r.count, let a = r[l].smoothedLogVariance, let b = r[l].rawLogVariance, a > 0, b > 0 else {
                    return nil
                }
                return Double.log(a / b)
            }
            return v.isEmpty ? nil : "\(layerNames(c.layers)[l]) \(fmt(exp(mean(v))))"
        }.joined(separator: ", ")
        let less = "UN's smoothed statistic fluctuates less than the batch statistic (variance of its log)"
        let factor = "…by S1's factor 1/M = \(fmt(1 / m)) (S1 assumes independent statistics)"
        guard logs.count >= 2, Set(logs).count > 1 else {
            return [
                Claim(
                    id: "L4b", task: t, statement: less, verdict: undecided,
                    evidence: "\(logs.count) UN runs with recorded statistics (need 2)"),
                Claim(
                    id: "L4c", task: t, statement: factor, verdict: undecided,
                    evidence: "\(logs.count) UN runs with recorded statistics (need 2)"),
            ]
        }
        let test = try HypothesisTests.oneSampleT(logs)
        let pLess = test.statistic < 0 ? test.pValue / 2 : 1 - test.pValue / 2
        let pMore = 1 - pLess
        let (mu, half) = try meanInterval(logs)
        let (lo, hi) = (exp(mu - half), exp(mu + half))
        let ratioText =
            "geometric mean ratio v̂(smoothed)/v̂(batch) \(fmt(exp(mu))), 95% interval "
            + "[\(fmt(lo)), \(fmt(hi))] over \(logs.count) UN runs at lr \(base) (per layer: \(perLayer))"
        let inBand = lo >= 1 / m / s1Band && hi <= s1Band / m
        let excludes = lo > 1 / m || hi < 1 / m
        return [
            Claim(
                id: "L4b", task: t, statement: less,
                verdict: pLess < alpha ? "holds" : (pMore < alpha ? "falsified" : undecided),
                evidence: ratioText + "; one-sided t p = \(fmt(pLess))"),
            Claim(
                id: "L4c", task: t, statement: factor,
                verdict: inBand ? "holds" : (excludes ? "falsified" : undecided),
                evidence: ratioText + "; holds if the interval lies within ×/÷ \(s1Band) of 1/M, falsified if it "
                    + "excludes 1/M"),
        ]
    }

    /// LF: every folded model within F2's bound at every fold point, and the same predictions.
    static func foldClaim(_ studies: [LabStudyRecord]) -> Claim {
        let statement =
            "every trained BN, PowerNorm and UN model folded for inference gives the unfolded "
            + "model's test predictions, within F2's bound at every fold point"
        let runs = studies.flatMap(\.runs)
        let checks = runs.compactMap(\.fold)
        let failures = runs.compactMap(\.foldFailure)
        guard !checks.isEmpty else {
            return Claim(
                id: "LF", statement: statement, verdict: undecided,
                evidence: "no folded model recorded" + (failures.isEmpty ? "" : "; failures: \(failures[0])"))
        }
        let worst = checks.map(\.worstBoundRatio).max()!
        let maxDiff = checks.map(\.maxLogitDifference).max()!
        let compared = checks.reduce(0) { $0 + $1.predictions }
        let differing = checks.reduce(0) { $0 + $1.predictionsDiffering }
        // A differing prediction is explained by rounding only where the unfolded top-2 gap is below
        // twice the logit difference.
        let unexplained = checks.filter { c in
            c.predictionsDiffering > 0 && (c.largestDifferingMargin ?? .infinity) >= 2 * c.maxLogitDifference
        }.count
        let entries = checks.reduce(0) { $0 + $1.entries }
        let verdict = failures.isEmpty && worst <= 1 && unexplained == 0 ? "holds" : "falsified"
        return Claim(
            id: "LF", statement: statement, verdict: verdict,
            evidence: "\(checks.count) models, \(checks.first!.foldPoints) fold points each, \(entries) entries: "
                + "largest |folded − unfolded| / F2 bound \(fmt(worst)); largest logit difference \(fmt(maxDiff)); "
                + "\(differing) of \(compared) predictions differ (\(unexplained) models with a difference not "
                + "explained by a near tie)" + (failures.isEmpty ? "" : "; \(failures.count) folds failed"))
    }

    /// Inference over each task's test split: median best-of-3 seconds per norm, unfolded and folded.
    static func inferenceTable(_ studies: [LabStudyRecord]) throws -> ReportTable {
        var rows: [[ReportTable.Cell]] = []
        for s in studies {
            let base = s.configuration.learningRates.min()!
            func median(_ v: [Double]) throws -> ReportTable.Cell {
                v.isEmpty ? .missing : .number(try Description.quantile(v, 0.5))
            }
            let ln = s.runs.filter { $0.key.norm == .layerNorm && $0.key.learningRate == base }
                .compactMap(\.inferenceSeconds)
            let lnMedian = ln.isEmpty ? Double.nan : try Description.quantile(ln, 0.5)
            for n in s.configuration.norms {
                let r = s.runs.filter { $0.key.norm == n && $0.key.learningRate == base }
                let folded = r.compactMap(\.foldedInferenceSeconds)
                rows.append([
                    .text(s.configuration.task.rawValue), .text(n.rawValue),
                    try median(r.compactMap(\.inferenceSeconds)),
                    try median(folded),
                    folded.isEmpty || !lnMedian.isFinite
                        ? .missing : .number(try Description.quantile(folded, 0.5) / lnMedian),
                ])
            }
        }
        return ReportTable(
            columns: [
                .init("task"), .init("norm"), .init("inference, unfolded", .number, unit: "s"),
                .init("inference, folded", .number, unit: "s"), .init("folded ÷ LayerNorm unfolded", .number),
            ],
            rows: rows)
    }

    static func layerNames(_ layers: Int) -> [String] {
        (0..<layers).flatMap { ["block \($0 + 1) N₁", "block \($0 + 1) N₂"] } + ["final norm"]
    }

    /// L5: where and how often UN's filter fires (per layer, over UN's runs at every rate), and whether
    /// steps where it fires are loss spikes (loss above 1.5 × the median of the previous 10 steps) more
    /// often than other steps: one-sided Fisher exact on the 2 × 2 table of steps.
    static func firings(_ runs: [LabRunResult], layers: Int, task: LabTask? = nil) -> Claim {
        let statement = "UN's filter fires on real statistics, and its firings coincide with loss spikes"
        let perLayer = runs.compactMap(\.firingsPerLayer).reduce([Int](repeating: 0, count: 2 * layers + 1)) {
            zip($0, $1).map { $0 + $1 }
        }
        let steps = runs.reduce(0) { $0 + $1.losses.count }
        let names = (0..<layers).flatMap { ["block \($0 + 1) N₁", "block \($0 + 1) N₂"] } + ["final norm"]
        let whereText = zip(names, perLayer).map { "\($0) \($1)" }.joined(separator: ", ")
        var (a, b, c, d) = (0, 0, 0, 0)
        for r in runs {
            guard let f = r.filterFirings else { continue }
            for s in 10..<min(f.count, r.losses.count) {
                let window = Array(r.losses[(s - 10)..<s]).sorted()
                let spike = r.losses[s] > 1.5 * (window[4] + window[5]) / 2
                switch (f[s] > 0, spike) {
                case (true, true): a += 1
                case (true, false): b += 1
                case (false, true): c += 1
                case (false, false): d += 1
                }
            }
        }
        let fired = perLayer.reduce(0, +)
        guard fired > 0 else {
            return Claim(
                id: "L5", task: task?.rawValue, statement: statement, verdict: "inconclusive at this scale",
                evidence: "the filter never fired in \(runs.count) UN runs (\(steps) steps)")
        }
        let p = fisherLess(c, c + d, a, a + b)
        let pReverse = fisherLess(a, a + b, c, c + d)
        let verdict = p < alpha ? "holds" : (pReverse < alpha ? "falsified" : "inconclusive at this scale")
        return Claim(
            id: "L5", task: task?.rawValue, statement: statement, verdict: verdict,
            evidence: "\(fired) layer-steps skipped in \(runs.count) UN runs (\(steps) steps): \(whereText); "
                + "loss spikes at \(a) of \(a + b) steps with a firing against \(c) of \(c + d) without, "
                + "one-sided Fisher exact p = \(fmt(p))")
    }

    /// The statistics figures: per-layer fluctuation over iterations, extremes across layers, UN's
    /// firing rate per layer over training (every study on one figure, dashed: text).
    static func statisticsFigures(_ studies: [LabStudyRecord]) throws -> [ReportFigure] {
        let withStats = studies.filter { $0.runs.contains { $0.statistics != nil } }
        guard !withStats.isEmpty else { return [] }
        let bin = 10
        let steps = withStats.map(\.configuration.steps).max()!
        // 1. Fluctuation over iterations: median over base-rate runs of each step's value, binned by 10.
        var columns = ["step"]
        var series: [[Double]] = []
        var plots: [String] = []
        for (k, s) in withStats.enumerated() {
            let base = s.configuration.learningRates.min()!
            let runs = s.runs.filter { $0.key.learningRate == base }.compactMap(\.statistics)
            let names = layerNames(s.configuration.layers)
            for l in names.indices {
                var col: [Double] = []
                for b in stride(from: 0, to: steps, by: bin) {
                    let v = runs.flatMap { r -> [Double] in
                        guard l < r.count else { return [] }
                        let x = r[l].series
                        return Array(x[min(b, x.count)..<min(b + bin, x.count)]).filter(\.isFinite)
                    }
                    col.append(v.isEmpty ? .nan : try Description.quantile(v, 0.5))
                }
                series.append(col)
                columns.append("\(s.configuration.task.rawValue) \(names[l])")
                plots.append(
                    "'DATA' using 1:\(columns.count) with lines lw 2 lc \(l + 1) dt \(k + 1) "
                        + "title '\(s.configuration.task.rawValue), \(names[l])'")
            }
        }
        let rows1 = stride(from: 0, to: steps, by: bin).enumerated().map { i, b in
            [Double(b + bin / 2 + 1)] + series.map { $0[i] }
        }
        let fluct = ReportFigure(
            id: "lab-fluctuation", title: "Step-to-step fluctuation of each norm layer's input statistics",
            caption: "root mean square over channels of ln σ²(t) − ln σ²(t − 1), median over every norm's runs at "
                + "the base learning rate, in bins of \(bin) steps; solid: digits, dashed: text",
            columns: columns, rows: rows1,
            script: """
                set terminal svg size 900,480 dynamic enhanced font 'Helvetica,11' background rgb 'white'
                set output 'lab-fluctuation.svg'
                set xlabel 'step'
                set ylabel 'RMS of Δ ln σ² per step'
                set logscale y
                set key outside right
                set grid
                plot \(plots.joined(separator: ", \\\n     "))
                """)
        // 2. Extremes across layers: the largest |Δ ln σ²| of each layer, median and range over runs.
        let layers = withStats.map { 2 * $0.configuration.layers + 1 }.max()!
        var cols2 = ["layer"]
        var data2: [[Double]] = []
        var plots2: [String] = []
        for (k, s) in withStats.enumerated() {
            let base = s.configuration.learningRates.min()!
            let runs = s.runs.filter { $0.key.learningRate == base }.compactMap(\.statistics)
            var med: [Double] = []
            var lo: [Double] = []
            var hi: [Double] = []
            for l in 0..<layers {
                let v = runs.compactMap { l < $0.count ? $0[l].extreme : nil }
                med.append(v.isEmpty ? .nan : try Description.quantile(v, 0.5))
                lo.append(v.min() ?? .nan)
                hi.append(v.max() ?? .nan)
            }
            data2 += [med, lo, hi]
            let t = s.configuration.task.rawValue
            cols2 += ["\(t) median", "\(t) min", "\(t) max"]
            let c = 2 + 3 * k
            plots2.append(
                "'DATA' using ($1+\(Double(k) * 0.1)):\(c):\(c + 1):\(c + 2) with yerrorlines lw 2 lc \(k + 1) "
                    + "title '\(t)'")
        }
        let rows2 = (0..<layers).map { l in [Double(l + 1)] + data2.map { $0[l] } }
        let extremes = ReportFigure(
            id: "lab-extremes", title: "Extremes across layers: the largest jump of one channel's statistic",
            caption: "largest |ln σ²(t) − ln σ²(t − 1)| over channels and steps of each norm layer (1 = block 1's "
                + "N₁, 2 = its N₂, …, last = the final norm), median and range over every norm's runs at the base rate",
            columns: cols2, rows: rows2,
            script: """
                set terminal svg size 900,420 dynamic enhanced font 'Helvetica,11' background rgb 'white'
                set output 'lab-extremes.svg'
                set xlabel 'norm layer (input order)'
                set ylabel 'largest |Δ ln σ²| in one step'
                set xtics 1
                set xrange [0.5:\(Double(layers) + 0.5)]
                set key top left
                set grid
                plot \(plots2.joined(separator: ", \\\n     "))
                """)
        // 3. UN's firing rate per layer over training (UN with filtration, every rate), bins of 25 steps.
        let fbin = 25
        var cols3 = ["step"]
        var data3: [[Double]] = []
        var plots3: [String] = []
        for (k, s) in withStats.enumerated() {
            let runs = s.runs.filter { $0.key.norm == .un }
            let names = layerNames(s.configuration.layers)
            for l in names.indices {
                var col: [Double] = []
                for b in stride(from: 0, to: steps, by: fbin) {
                    var fired = 0
                    var seen = 0
                    for r in runs {
                        guard let st = r.statistics, l < st.count else { continue }
                        let done = min(r.losses.count, b + fbin) - b
                        guard done > 0 else { continue }
                        seen += done
                        fired += (st[l].firingSteps ?? []).filter { $0 > b && $0 <= b + fbin }.count
                    }
                    col.append(seen > 0 ? Double(fired) / Double(seen) : .nan)
                }
                data3.append(col)
                cols3.append("\(s.configuration.task.rawValue) \(names[l])")
                plots3.append(
                    "'DATA' using 1:\(cols3.count) with linespoints lw 2 lc \(l + 1) dt \(k + 1) "
                        + "title '\(s.configuration.task.rawValue), \(names[l])'")
            }
        }
        let rows3 = stride(from: 0, to: steps, by: fbin).enumerated().map { i, b in
            [Double(b + fbin / 2 + 1)] + data3.map { $0[i] }
        }
        let firing = ReportFigure(
            id: "lab-firing-rate", title: "UN's filter: firing rate per layer over training",
            caption: "fraction of steps at which a layer's outlier filter fired (the step used its batch statistic), "
                + "UN with filtration, every learning rate, in bins of \(fbin) steps; solid: digits, dashed: text",
            columns: cols3, rows: rows3,
            script: """
                set terminal svg size 900,480 dynamic enhanced font 'Helvetica,11' background rgb 'white'
                set output 'lab-firing-rate.svg'
                set xlabel 'step'
                set ylabel 'firing rate'
                set key outside right
                set grid
                plot \(plots3.joined(separator: ", \\\n     "))
                """)
        return [fluct, extremes, firing]
    }

    func lossFigure(_ study: LabStudyRecord, base: Double) throws -> ReportFigure {
        let norms = study.configuration.norms
        let steps = study.configuration.steps
        var rows: [[Double]] = []
        for s in stride(from: 0, to: steps, by: max(1, steps / 100)) {
            var row = [Double(s + 1)]
            for n in norms {
                let v = study.runs.filter { $0.key.norm == n && $0.key.learningRate == base && $0.losses.count > s }
                    .map { $0.losses[s] }
                if v.isEmpty {
                    row += [.nan, .nan, .nan]
                } else {
                    row += [
                        try Description.quantile(v, 0.5), v.min()!, v.max()!,
                    ]
                }
            }
            rows.append(row)
        }
        let plots = norms.enumerated().map { k, n in
            let c = 2 + 3 * k
            return "'DATA' using 1:\(c + 1):\(c + 2) with filledcurves fs transparent solid 0.15 lc \(k + 1) notitle, "
                + "'DATA' using 1:\(c) with lines lw 2 lc \(k + 1) title '\(n.rawValue)'"
        }.joined(separator: ", \\\n     ")
        // Filtration that never fired leaves UN's runs identical to the ablation's: said, as one curve hides the other.
        let losses = { (n: LabNorm) in
            study.runs.filter { $0.key.norm == n && $0.key.learningRate == base }.map(\.losses)
        }
        let same =
            norms.contains(.un) && norms.contains(.unWithoutFiltration) && losses(.un) == losses(.unWithoutFiltration)
        return ReportFigure(
            id: "lab-loss-curves-\(study.configuration.task.rawValue)",
            title: "Training loss per norm, \(study.configuration.task.rawValue) (median over seeds, band: min to max)",
            caption:
                "mean cross-entropy of each step's batch at learning rate \(base)"
                + (study.configuration.task == .digits ? "; ln 10 = 2.30 is uniform prediction" : "")
                + (same ? "; UN and UN-nofilter coincide (the filter never fired at this rate)" : ""),
            columns: ["step"]
                + norms.flatMap { ["\($0.rawValue) median", "\($0.rawValue) min", "\($0.rawValue) max"] },
            rows: rows,
            script: """
                set terminal svg size 900,480 dynamic enhanced font 'Helvetica,11' background rgb 'white'
                set output 'lab-loss-curves-\(study.configuration.task.rawValue).svg'
                set xlabel 'step'
                set ylabel 'training loss (cross-entropy)'
                set logscale y
                set key top right
                set grid
                plot \(plots)
                """)
    }

    static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(max(x.count, 1)) }

    /// Mean and the half-width of its 95% t interval (0 for fewer than two values).
    static func meanInterval(_ x: [Double]) throws -> (Double, Double) {
        guard x.count >= 2 else { return (x.first ?? .nan, .nan) }
        let m = mean(x)
        let v = x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)
        return (m, try tQuantile(0.025, nu: Double(x.count - 1)) * (v / Double(x.count)).squareRoot())
    }

    /// The gap a one-sided Welch test at α detects with 80% power: `(t_{1−α} + t_{0.8})·se` (Welch's ν).
    static func detectable(_ x: [Double], _ y: [Double]) throws -> Double {
        func v(_ a: [Double]) -> Double {
            let m = mean(a)
            return a.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(a.count - 1)
        }
        let (a, b) = (v(x) / Double(x.count), v(y) / Double(y.count))
        guard a + b > 0 else { return 0 }
        let nu = (a + b) * (a + b) / (a * a / Double(x.count - 1) + b * b / Double(y.count - 1))
        return try (tQuantile(alpha, nu: nu) + tQuantile(0.2, nu: nu)) * (a + b).squareRoot()
    }

    /// The upper `q`-quantile of Student's t (`P(T > t) = q`), by bisection on the tail.
    static func tQuantile(_ q: Double, nu: Double) throws -> Double {
        var (lo, hi) = (0.0, 1e3)
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if try Distributions.studentTQ(mid, nu: nu) > q { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    /// One-sided Fisher exact test that group A's rate (`a` of `n`) is below group B's (`b` of `m`):
    /// the hypergeometric probability of `a` or fewer events in A given the `a + b` events.
    static func fisherLess(_ a: Int, _ n: Int, _ b: Int, _ m: Int) -> Double {
        let k = a + b
        func logChoose(_ n: Int, _ r: Int) -> Double {
            lgamma(Double(n + 1)) - lgamma(Double(r + 1)) - lgamma(Double(n - r + 1))
        }
        let total = logChoose(n + m, k)
        var p = 0.0
        for i in max(0, k - m)...min(a, k) { p += exp(logChoose(n, i) + logChoose(m, k - i) - total) }
        return min(1, p)
    }

    static func fmt(_ v: Double) -> String { v.isFinite ? String(format: "%.3g", v) : "—" }
    static func pct(_ v: Double) -> String { v.isFinite ? String(format: "%.2f", 100 * v) : "—" }
}
