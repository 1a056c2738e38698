import Foundation
import UNLab
import UNStatistics

/// Report section: the committed training-lab study (`lab-results/digits-study/study.json`, made by
/// `unverify lab --preset`), read and judged, never retrained. The paper's empirical claims, tried
/// on a tiny ViT on the 8 × 8 digits across seeds with the statistics module:
/// L1 BatchNorm is worse than LayerNorm; L2 UN is on par with LayerNorm; L3 at a raised learning rate,
/// divergence counts per norm and whether filtration lowers UN's. Each has its own verdict (holds,
/// falsified, or inconclusive at this scale, with the effect the test could detect); the section is
/// informational in the report's overall verdict, since a study of this size cannot settle claims
/// made about IWSLT14 and ImageNet (said in the section).
public struct LabSection: ReportSectionBuilder {
    public let id = "lab"
    public var path: String
    public init(path: String = "lab-results/digits-study/study.json") { self.path = path }

    /// L2's equivalence margin: 2 percentage points of test accuracy. Why: the test split has 359
    /// images, so one image is 0.28 points and the binomial standard deviation of an accuracy near
    /// 90% is √(0.9·0.1/359) = 1.6 points: differences below about 2 points are the test set's own
    /// sampling noise, finer "on par" cannot be resolved with it. (The paper's own UN–LN gaps are
    /// 0.1 BLEU and 0.6 top-1 points, its BN–LN gaps 4.2 BLEU and 1.7 points.)
    public static let margin = 0.02
    public static let alpha = 0.05

    /// One claim's outcome.
    public struct Claim: Codable, Sendable {
        public var id: String
        public var statement: String
        public var verdict: String
        public var evidence: String
    }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ReportInputError(file: path, reason: "unreadable: \(error.localizedDescription)")
        }
        let study: LabStudyRecord
        do { study = try JSONDecoder().decode(LabStudyRecord.self, from: data) } catch {
            throw ReportInputError(file: path, reason: "not a lab study: \(error)")
        }
        guard study.schemaVersion == LabStudyRecord.currentSchemaVersion else {
            throw ReportInputError(file: path, reason: "schema version \(study.schemaVersion), expected 1")
        }
        let c = study.configuration
        let base = c.learningRates.min()!
        let raised = c.learningRates.max()!
        func accuracies(_ n: LabNorm, _ lr: Double) -> [Double] {
            study.runs.filter { $0.key.norm == n && $0.key.learningRate == lr }.compactMap(\.testAccuracy)
        }
        func divergences(_ n: LabNorm, _ lr: Double) -> (Int, Int) {
            let r = study.runs.filter { $0.key.norm == n && $0.key.learningRate == lr }
            return (r.filter(\.diverged).count, r.count)
        }
        // Per norm: mean ± 95% t interval of test accuracy at the base rate; divergences at both rates.
        var rows: [[ReportTable.Cell]] = []
        for n in c.norms {
            let a = accuracies(n, base)
            let (m, half) = try Self.meanInterval(a)
            let (d0, t0) = divergences(n, base)
            let (d1, t1) = divergences(n, raised)
            let ci = try HypothesisTests.clopperPearson(successes: d1, trials: max(t1, 1))
            rows.append([
                .text(n.rawValue), .integer(a.count), .number(m), .number(half), .text("\(d0)/\(t0)"),
                .text("\(d1)/\(t1) [\(Self.fmt(ci.low)), \(Self.fmt(ci.high))]"),
            ])
        }
        let claims =
            try judge(accuracies: accuracies, divergences: divergences, base: base, raised: raised)
            + [Self.firings(study.runs.filter { $0.key.norm == .un }, layers: c.layers)]
        let table = ReportTable(
            columns: [
                .init("norm"), .init("runs", .integer), .init("test accuracy, mean", .fraction),
                .init("± 95% interval", .fraction), .init("diverged at lr \(base)"),
                .init("diverged at lr \(raised) [95% Clopper–Pearson]"),
            ],
            rows: rows)
        let claimTable = ReportTable(
            columns: [.init("claim"), .init("statement"), .init("verdict"), .init("evidence")],
            rows: claims.map { [.text($0.id), .text($0.statement), .text($0.verdict), .text($0.evidence)] })
        let summary = claims.map { "\($0.id) \($0.verdict)" }.joined(separator: ", ")
        return ReportSection(
            id: id, title: "Training lab: the paper's empirical claims on a tiny ViT (recorded study)",
            verdict: .informational,
            summary: "\(summary); \(study.runs.count) runs, recorded \(study.date)",
            blocks: [
                .text(
                    """
                    From `\(path)`: \(study.runs.count) of \(c.runs.count) runs (\(c.norms.count) norms × \
                    \(c.seeds.count) seeds × learning rates \(c.learningRates.map { "\($0)" }.joined(separator: ", "))), \
                    a ViT of width \(c.width), \(c.heads) heads, \(c.layers) blocks, \(c.steps) AdamW steps of batch \
                    \(c.batchSize) on the 8 × 8 digits (1,438 training, 359 test images). Made by `\(study.command)` \
                    at commit \(study.commit) on \(study.machine), \(study.date); the report reads it and never \
                    retrains. Test accuracy is measured in inference mode (BN, PowerNorm and UN with their running \
                    statistics, i.e. as folded).
                    """),
                .table(table), .table(claimTable),
                .text(
                    """
                    What a model of this size cannot tell: the paper's gaps come from 12-layer Transformers trained \
                    for hundreds of thousands of steps on IWSLT14 and ImageNet, where activation statistics drift \
                    and outliers grow over training; a 2-block ViT of width \(c.width) trained for \(c.steps) steps \
                    on 8 × 8 digits sees neither, so "inconclusive at this scale" or a small gap here says nothing \
                    against the paper's numbers, and a gap here would not show one there. The section is \
                    informational in the report's overall verdict for that reason; each claim's own verdict is above. \
                    Not yet measured: L4 (fluctuation of each layer's statistics over iterations, padded text \
                    against images), which needs per-layer statistics the study does not record yet, and a text task.
                    """),
                .figure(try lossFigure(study, base: base)),
            ],
            data: try JSONValue(encoding: claims))
    }

    func judge(
        accuracies: (LabNorm, Double) -> [Double], divergences: (LabNorm, Double) -> (Int, Int), base: Double,
        raised: Double
    ) throws -> [Claim] {
        var out: [Claim] = []
        let ln = accuracies(.layerNorm, base)
        let bn = accuracies(.batchNorm, base)
        let un = accuracies(.un, base)
        // L1: one-sided Welch, LN > BN.
        if ln.count >= 2, bn.count >= 2 {
            let worse = try HypothesisTests.welchGreater(ln, bn)
            let better = try HypothesisTests.welchGreater(bn, ln)
            let gap = Self.mean(ln) - Self.mean(bn)
            let mde = try Self.detectable(ln, bn)
            let verdict =
                worse.pValue < Self.alpha
                ? "holds" : (better.pValue < Self.alpha ? "falsified" : "inconclusive at this scale")
            out.append(
                Claim(
                    id: "L1", statement: "BatchNorm gives a lower test accuracy than LayerNorm", verdict: verdict,
                    evidence: "gap LN − BN \(Self.pct(gap)) points, one-sided Welch p = \(Self.fmt(worse.pValue)) "
                        + "(ν = \(Self.fmt(worse.degreesOfFreedom ?? .nan))); detectable gap at 80% power "
                        + "\(Self.pct(mde)) points"))
        } else {
            out.append(
                Claim(
                    id: "L1", statement: "BN worse than LN", verdict: "inconclusive at this scale",
                    evidence: "fewer than two completed runs of LN or BN"))
        }
        // L2: TOST with the margin.
        if ln.count >= 2, un.count >= 2 {
            let tost = try HypothesisTests.equivalence(un, ln, margin: Self.margin)
            let diff = Self.mean(un) - Self.mean(ln)
            let two = try HypothesisTests.twoSampleT(un, ln, equalVariances: false)
            // 90% interval of the difference (the TOST's own): diff ± t_{0.95,ν}·se, se = diff / t.
            let nu = two.degreesOfFreedom ?? 1
            let se = two.statistic != 0 ? abs(diff / two.statistic) : 0
            let tq = try Self.tQuantile(0.05, nu: nu)
            let (lo, hi) = (diff - tq * se, diff + tq * se)
            let outside = lo > Self.margin || hi < -Self.margin
            let verdict =
                tost.pValue < Self.alpha ? "holds" : (outside ? "falsified" : "inconclusive at this scale")
            out.append(
                Claim(
                    id: "L2", statement: "UN is on par with LayerNorm (test accuracy within ±2 points)",
                    verdict: verdict,
                    evidence: "UN − LN \(Self.pct(diff)) points, 90% interval [\(Self.pct(lo)), \(Self.pct(hi))], "
                        + "TOST p = \(Self.fmt(tost.pValue)), margin ±\(Self.pct(Self.margin)) points"))
        } else {
            out.append(
                Claim(
                    id: "L2", statement: "UN on par with LN", verdict: "inconclusive at this scale",
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
        let verdict = p < Self.alpha ? "holds" : (pMore < Self.alpha ? "falsified" : "inconclusive at this scale")
        out.append(
            Claim(
                id: "L3", statement: "at a raised learning rate, filtration lowers UN's divergence count",
                verdict: verdict,
                evidence: "diverged at lr \(raised): \(counts); UN with filtration \(f)/\(nf) against without "
                    + "\(u)/\(nu), one-sided Fisher exact p = \(Self.fmt(p))"))
        return out
    }

    /// L5: where and how often UN's filter fires (per layer, over UN's runs at every rate), and whether
    /// steps where it fires are loss spikes (loss above 1.5 × the median of the previous 10 steps) more
    /// often than other steps: one-sided Fisher exact on the 2 × 2 table of steps.
    static func firings(_ runs: [LabRunResult], layers: Int) -> Claim {
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
                id: "L5", statement: statement, verdict: "inconclusive at this scale",
                evidence: "the filter never fired in \(runs.count) UN runs (\(steps) steps)")
        }
        let p = fisherLess(c, c + d, a, a + b)
        let pReverse = fisherLess(a, a + b, c, c + d)
        let verdict = p < alpha ? "holds" : (pReverse < alpha ? "falsified" : "inconclusive at this scale")
        return Claim(
            id: "L5", statement: statement, verdict: verdict,
            evidence: "\(fired) layer-steps skipped in \(runs.count) UN runs (\(steps) steps): \(whereText); "
                + "loss spikes at \(a) of \(a + b) steps with a firing against \(c) of \(c + d) without, "
                + "one-sided Fisher exact p = \(fmt(p))")
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
            id: "lab-loss-curves", title: "Training loss per norm (median over seeds, band: min to max)",
            caption:
                "mean cross-entropy of each step's batch at learning rate \(base); ln 10 = 2.30 is uniform prediction"
                + (same ? "; UN and UN-nofilter coincide (the filter never fired at this rate)" : ""),
            columns: ["step"]
                + norms.flatMap { ["\($0.rawValue) median", "\($0.rawValue) min", "\($0.rawValue) max"] },
            rows: rows,
            script: """
                set terminal svg size 900,480 dynamic enhanced font 'Helvetica,11' background rgb 'white'
                set output 'lab-loss-curves.svg'
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
