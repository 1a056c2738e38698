import Foundation
import GradientCheck

/// Report section: the G5 map (is each backward the exact gradient of its forward?).
public struct GradientMapSection: ReportSectionBuilder {
    public let id = "gradient-map"
    public init() {}

    public func build(_ context: ReportContext) throws -> ReportSection {
        let rows = try GradientMap.run(Double.self, seed: context.seed) + GradientMap.run(Float.self, seed: context.seed)
        return Self.section(rows, seed: context.seed)
    }

    public static func markdownTable(_ rows: [GradientMap.Row]) -> String {
        var md = "| layer | regime | padded | precision | ∂X deviation | ∂γ deviation | ∂β deviation | exact? | meant exact? |\n|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            md += "| \(r.layer) | \(r.regime) | \(r.padded ? "yes" : "no") | \(r.precision) | \(sci(r.inputDeviation)) | \(sci(r.weightDeviation)) | \(sci(r.biasDeviation)) | \(r.exact ? "yes" : "**no**") | \(r.designedExact ? "yes" : "no") |\n"
        }
        return md
    }

    static func section(_ rows: [GradientMap.Row], seed: UInt64) -> ReportSection {
        let bad = rows.filter { !$0.consistent }
        var md = "Spec claim G5. For each layer, mode and regime, the hand-written backward is compared with the numerical gradient of `x ↦ ⟨∂L/∂Y, forward(x)⟩` at the same state (history held fixed), by `GradientChecker` (Richardson extrapolation, per-entry error bounds). *Deviation* is `max|backward − numerical| / max|numerical|`; *exact* means every entry agreed within the checker's bound. Seed \(seed).\n\n"
        md += markdownTable(rows)
        md += "\nReading the map: LayerNorm, RMSNorm, BatchNorm and UN in paper mode with the exact option are exact in every regime. The paper mode's calibrated backward is exact in warm-up and with window 1 (ψ is then the current g_σ) and an approximation once smoothing starts. The authors' code (reference-compatible) is exact only on a skip without padding; elsewhere the moving average of g_σ, the factor `r` (which also scales ∂γ), and padded positions inside the backward means make it an approximation by design. PowerNorm's backward is an approximation in both regimes.\n"
        return ReportSection(id: "gradient-map", title: "G5: is each backward the gradient of its forward?",
                             verdict: bad.isEmpty ? .holds : .falsified,
                             summary: "\(rows.count) cases; \(rows.filter(\.exact).count) exact; \(bad.count) meant-exact backward(s) not exact",
                             markdown: md, data: (try? JSONValue(encoding: rows)) ?? .null)
    }
}

/// Report section: the gradient checker's measured accuracy.
public struct CheckerAccuracySection: ReportSectionBuilder {
    public let id = "checker-accuracy"
    public var points: Int
    public init(points: Int = 30) { self.points = points }

    public func build(_ context: ReportContext) throws -> ReportSection {
        let rows = try CheckerAccuracySuite.run(Double.self, points: points, seed: context.seed)
            + CheckerAccuracySuite.run(Float.self, points: points, seed: context.seed)
        return Self.section(rows, seed: context.seed, points: points)
    }

    public static func markdownTable(_ rows: [CheckerAccuracySuite.Row]) -> String {
        var md = "| function | precision | entries | median rel. error | max rel. error | median est. rel. error | est. ≥ true | evals/entry | right gradient accepted |\n|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            md += "| \(r.function) | \(r.precision) | \(r.entries) | \(sci(r.medianRelativeError)) | \(sci(r.maxRelativeError)) | \(sci(r.medianEstimatedRelativeError)) | \(String(format: "%.1f%%", 100 * r.estimateCoversTrueError)) | \(String(format: "%.1f", r.evaluationsPerEntry)) | \(r.allPassed ? "yes" : "**no**") |\n"
        }
        return md
    }

    static func section(_ rows: [CheckerAccuracySuite.Row], seed: UInt64, points: Int) -> ReportSection {
        let smoothD = rows.filter { $0.smooth && $0.precision == "Double" }
        let medianOK = smoothD.allSatisfy { $0.medianRelativeError <= 1e-13 }
        let cov = smoothD.reduce(0.0) { $0 + $1.estimateCoversTrueError * Double($1.entries) } / Double(max(smoothD.reduce(0) { $0 + $1.entries }, 1))
        let accepted = rows.filter(\.smooth).allSatisfy(\.allPassed)
        var md = "Functions with known derivatives at \(points) random points each (seed \(seed)), default settings. *True error* is against the exact derivative; *est.* is the checker's own error estimate. Targets (Double, smooth functions): median relative error ≤ 1e-13, estimate ≥ true error on ≥ 99% of entries.\n\n"
        md += markdownTable(rows)
        md += "\nThe cancellation function (`cos x − 1 + x²/2` near 0) is a stress case outside the targets: its values are rounding noise of size `u` around a quantity of size `x⁴/24`, so no finite difference can resolve its derivative to full accuracy.\n"
        return ReportSection(id: "checker-accuracy", title: "Gradient checker accuracy",
                             verdict: medianOK && cov >= 0.99 && accepted ? .holds : .falsified,
                             summary: "Double smooth: worst median rel. error \(sci(smoothD.map(\.medianRelativeError).max() ?? 0)), estimate covers true error on \(String(format: "%.2f%%", 100 * cov)) of entries",
                             markdown: md, data: (try? JSONValue(encoding: rows)) ?? .null)
    }
}
