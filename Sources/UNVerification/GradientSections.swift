import Foundation
import GradientCheck

/// Report section: the G5 map (is each backward the exact gradient of its forward?).
public struct GradientMapSection: ReportSectionBuilder {
    public let id = "gradient-map"
    public init() {}

    public func build(_ context: ReportContext) throws -> ReportSection {
        let rows =
            try GradientMap.run(Double.self, seed: context.seed) + GradientMap.run(Float.self, seed: context.seed)
        return Self.section(rows, seed: context.seed)
    }

    public static func markdownTable(_ rows: [GradientMap.Row]) -> String {
        var md =
            "| layer | regime | padded | precision | ∂X deviation | ∂γ deviation | ∂β deviation | exact? | meant exact? |\n|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            md +=
                "| \(r.layer) | \(r.regime) | \(r.padded ? "yes" : "no") | \(r.precision) | \(sci(r.inputDeviation)) | \(sci(r.weightDeviation)) | \(sci(r.biasDeviation)) | \(r.outcome == .pass ? "yes" : (r.outcome == .fail ? "**no**" : "undecided")) | \(r.designedExact ? "yes" : "no") |\n"
        }
        return md
    }

    static func section(_ rows: [GradientMap.Row], seed: UInt64) -> ReportSection {
        let bad = rows.filter { !$0.consistent }
        let undecided = rows.filter { $0.designedExact && $0.outcome == .inconclusive }
        var md =
            "Spec claim G5. For each layer, mode and regime, the hand-written backward is compared with the numerical gradient of `x ↦ ⟨∂L/∂Y, forward(x)⟩` at the same state (history held fixed), by `GradientChecker` (Richardson extrapolation, per-entry error bounds). *Deviation* is `max|backward − numerical| / max|numerical|`; *exact* means every entry agreed within the checker's bound, with that bound at most 1e-6 (Double) or 1e-2 (Float) of the gradient's largest entry (G5 is a normwise question, so each entry's rounding allowance and resolution are measured against that magnitude); *undecided* means no entry disagreed but some could not be resolved that finely. Seed \(seed).\n\n"
        md += markdownTable(rows)
        md +=
            "\nReading the map: LayerNorm, RMSNorm, BatchNorm and UN in paper mode with the exact option are exact in every regime. The paper mode's calibrated backward is exact in warm-up and with window 1 (ψ is then the current g_σ) and an approximation once smoothing starts. The authors' code (reference-compatible) is exact only on a skip without padding; elsewhere the moving average of g_σ, the factor `r` (which also scales ∂γ), and padded positions inside the backward means make it an approximation by design. PowerNorm's backward is an approximation in both regimes.\n"
        return ReportSection(
            id: "gradient-map", title: "G5: is each backward the gradient of its forward?",
            verdict: !bad.isEmpty ? .falsified : (undecided.isEmpty ? .holds : .inconclusive),
            summary:
                "\(rows.count) cases; \(rows.filter(\.exact).count) exact; \(bad.count) meant-exact backward(s) not exact; "
                + "\(undecided.count) meant-exact undecided",
            markdown: md, data: (try? JSONValue(encoding: rows)) ?? .null)
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
        return Self.section(rows, seed: context.seed, points: points)
    }

    public static func markdownTable(_ rows: [CheckerAccuracySuite.Row]) -> String {
        var md =
            "| function | precision | entries | median rel. error | max rel. error | median est. rel. error | est. ≥ true | evals/entry | right gradient: pass / undecided / false alarm |\n|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            md +=
                "| \(r.function) | \(r.precision) | \(r.entries) | \(sci(r.medianRelativeError)) | \(sci(r.maxRelativeError)) | \(sci(r.medianEstimatedRelativeError)) | \(String(format: "%.1f%%", 100 * r.estimateCoversTrueError)) | \(String(format: "%.1f", r.evaluationsPerEntry)) | \(r.rightPassed) / \(r.rightInconclusive) / \(r.falseAlarms == 0 ? "0" : "**\(r.falseAlarms)**") |\n"
        }
        return md
    }

    /// Detection rate per planted size, one row per function and precision.
    public static func powerTable(_ rows: [DetectionPower.Row]) -> String {
        guard let first = rows.first else { return "" }
        let ks = first.cells.compactMap(\.exponent)
        var md =
            "| function | precision | " + ks.map { "1e-\($0)" }.joined(separator: " | ")
            + " | smallest detected ≥ 99% | false alarms (right / planted) |\n|---|---|"
            + ks.map { _ in "---" }.joined(separator: "|") + "|---|---|\n"
        for r in rows {
            md += "| \(r.function) | \(r.precision) | "
            md += ks.map { k -> String in
                guard let c = r.cells.first(where: { $0.exponent == k }), c.trials > 0 else { return "—" }
                return String(format: "%.1f%%", 100 * c.detectionRate)
            }.joined(separator: " | ")
            let planted = r.falseAlarms - r.rightFalseAlarms
            md +=
                " | \(r.smallestDetected99.map { sci($0) } ?? "none") | \(r.rightFalseAlarms)/\(r.rightTrials) / \(planted) |\n"
        }
        return md
    }

    /// The detection targets: smallest planted error detected in ≥ 99% of trials at most 1e-8
    /// (Double) or 1e-3 (Float) on every smooth function, and no false alarm anywhere.
    public static func powerTargetsMet(_ rows: [DetectionPower.Row]) -> [String] {
        rows.compactMap { r in
            let target = r.precision == "Double" ? 1e-8 : 1e-3
            if r.falseAlarms > 0 { return "\(r.function) (\(r.precision)): \(r.falseAlarms) false alarm(s)" }
            guard let s = r.smallestDetected99, s <= target * (1 + 1e-9) else {
                return
                    "\(r.function) (\(r.precision)): smallest detected ≥ 99% is \(r.smallestDetected99.map { sci($0) } ?? "none"), target \(sci(target))"
            }
            return nil
        }
    }

    static func section(_ rows: [CheckerAccuracySuite.Row], seed: UInt64, points: Int) -> ReportSection {
        let smoothD = rows.filter { $0.smooth && $0.precision == "Double" }
        let medianOK = smoothD.allSatisfy { $0.medianRelativeError <= 1e-13 }
        let cov =
            smoothD.reduce(0.0) { $0 + $1.estimateCoversTrueError * Double($1.entries) }
            / Double(max(smoothD.reduce(0) { $0 + $1.entries }, 1))
        let accepted = rows.filter(\.smooth).allSatisfy { $0.falseAlarms == 0 }
        var md =
            "Functions with known derivatives at \(points) random points each (seed \(seed)), default settings. *True error* is against the exact derivative; *est.* is the checker's own error estimate. Targets (Double, smooth functions): median relative error ≤ 1e-13, estimate ≥ true error on ≥ 99% of entries, no right gradient failed. A right gradient is *undecided* when some entry could not be resolved to the checker's resolution (1e-6 of itself in Double, 1e-3 in Float); it is then not reported as a pass.\n\n"
        md += markdownTable(rows)
        md +=
            "\nThe cancellation function (`cos x − 1 + x²/2` near 0) is a stress case outside the targets: its values are rounding noise of size `u` around a quantity of size `x⁴/24`, so no finite difference can resolve its derivative to full accuracy.\n"
        return ReportSection(
            id: "checker-accuracy", title: "Gradient checker accuracy",
            verdict: medianOK && cov >= 0.99 && accepted ? .holds : .falsified,
            summary:
                "Double smooth: worst median rel. error \(sci(smoothD.map(\.medianRelativeError).max() ?? 0)), estimate covers true error on \(String(format: "%.2f%%", 100 * cov)) of entries",
            markdown: md, data: (try? JSONValue(encoding: rows)) ?? .null)
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
        return Self.section(rows, seed: context.seed)
    }

    static func section(_ power: [DetectionPower.Row], seed: UInt64) -> ReportSection {
        let missed = CheckerAccuracySection.powerTargetsMet(power)
        let alarms = power.reduce(0) { $0 + $1.falseAlarms }
        let checks = power.reduce(0) { $0 + $1.cells.reduce(0) { $0 + $1.trials } }
        let trials = power.first?.cells.first?.trials ?? 0
        var md =
            "One entry of the right gradient multiplied by `1 ± 10⁻ᵏ` at each of \(trials) seeded points per cell (seed \(seed); the entry and the sign drawn at random); *detected* means the check failed with a mismatch at that entry. A cell is blank where the planted value rounds to the right one in that precision. *False alarms* count failures of right gradients, and failures at an entry that was not planted. Targets: 1e-8 detected in ≥ 99% of trials for every smooth Double function, 1e-3 for every smooth Float function, no false alarm. The side-by-side with torch's `gradcheck` is in `Benchmarks/gradcheck-power/` (committed results and the script that made them).\n\n"
        md += CheckerAccuracySection.powerTable(power)
        md +=
            missed.isEmpty ? "\nEvery target is met.\n" : "\nTargets not met: " + missed.joined(separator: "; ") + ".\n"
        md +=
            "\nWhere a Float plant is missed, the check ended *undecided* (never *pass*) in most trials: the entry's band at that point, set by Float's rounding of the function, is wider than the plant (for example `cos x` near ±π/2 for `sin`, or `1 + x²` rounding for `log(1+x²)` near 0).\n"
        return ReportSection(
            id: "checker-power", title: "Gradient checker detection power",
            verdict: alarms > 0 || !missed.isEmpty ? .falsified : .holds,
            summary: "\(checks) checks, \(alarms) false alarm(s); targets "
                + (missed.isEmpty ? "met" : "missed in \(missed.count) of \(power.count) rows"),
            markdown: md, data: (try? JSONValue(encoding: power)) ?? .null)
    }
}
