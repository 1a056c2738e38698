#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The verdict for one checked entry. Three-valued: an entry is `pass` only on evidence (the
/// numerical value agrees *and* its error band is narrow enough to have seen an error of the
/// requested relative size); `mismatch` only when the disagreement is resolved beyond the band;
/// everything else is `inconclusive`, with an ``InconclusiveReason``.
public enum EntryVerdict: String, Sendable, Codable, CaseIterable {
    /// Analytic and numerical values agree within a band no wider than half the requested
    /// resolution (so an error of the full resolution would have been a mismatch).
    case pass
    /// They disagree beyond the band, and the function is smooth there.
    case mismatch
    /// The check could not decide; ``EntryResult/reason`` says why.
    case inconclusive
}

/// Why an entry could not be decided.
public enum InconclusiveReason: String, Sendable, Codable, CaseIterable {
    /// The values agree, but the error band at this point is wider than the requested resolution
    /// (or infinite): an error of that size would have gone unseen.
    case errorBandTooWide
    /// No step down to the resolution of `x` showed the asymptotic (Taylor) regime: the function
    /// is not smooth, or is noisy, at every scale the check could probe.
    case notSmooth
    /// Two independent estimates (first steps 16× apart) disagree beyond both their bands.
    case estimatesDisagree
    /// Left and right derivatives differ beyond their bands: no derivative exists there.
    case kink
    /// The function was non-finite or threw at the trial points in every direction and step tried.
    case undefinedNearby
    /// The input or the function's values are at the edge of the floating-point range (subnormal,
    /// or so large that no step fits), so the differences carry no information.
    case outOfRange

    /// What to try, for messages.
    public var advice: String {
        switch self {
        case .errorBandTooWide:
            return "check in Double, raise `resolution`, or give `termMagnitudes`/`stepScale` for this entry"
        case .notSmooth:
            return "check at a point where the function is smooth, or set `stepScale` to its variation scale"
        case .estimatesDisagree:
            return "set `stepScale` to the scale on which the function varies along this coordinate"
        case .kink: return "the function has a kink here; check one-sided derivatives (`estimator.side`)"
        case .undefinedNearby:
            return "set `maxStep` below the distance to the domain's edge, or use a one-sided `estimator.side`"
        case .outOfRange: return "rescale the input or the function into the normal floating-point range"
        }
    }
}

/// One compared entry: a gradient component, a Jacobian element, or a projection `uᵀJv`.
public struct EntryResult: Sendable, Codable, Equatable {
    /// Where the entry sits (`[i]` for a gradient, `[row, column]` for a Jacobian, `[trial]`
    /// for a projected check, `[trial, j]` for the input entry a failed projection was traced to).
    public var index: [Int]
    public var analytic: Double
    public var numerical: Double
    /// The estimator's bound on `|numerical − exact|` (may be `+∞`).
    public var errorEstimate: Double
    /// What the verdict allowed: `safety · errorEstimate + roundingUnits · u · magnitude`, where
    /// `magnitude` is this entry's own: `max(|analytic|, |numerical|, term magnitude)`.
    public var allowed: Double
    public var absoluteError: Double
    /// `absoluteError / max(|numerical|, |analytic|)`.
    public var relativeError: Double
    /// The smallest relative error of the analytic value this check could have detected here:
    /// `allowed / max(|analytic|, |numerical|)` (0 when both sides are exactly 0 and nothing was
    /// allowed). A `pass` means this is at most half the requested resolution.
    public var detectableRelativeError: Double
    public var verdict: EntryVerdict
    /// Set exactly when `verdict == .inconclusive`.
    public var reason: InconclusiveReason?
    /// For kinks: the one-sided derivatives.
    public var left: Double?
    public var right: Double?
    /// The first displacement of the estimate that was used (after any shrinking).
    public var step: Double?

    /// `absoluteError / allowed`: above 1 fails.
    public var severity: Double { allowed > 0 ? absoluteError / allowed : (absoluteError > 0 ? .infinity : 0) }
}

/// The outcome of a whole check.
public enum CheckOutcome: String, Sendable, Codable {
    /// Every entry passed.
    case pass
    /// At least one entry is a resolved mismatch.
    case fail
    /// No mismatch, but at least one entry could not be decided.
    case inconclusive
}

/// The result of a check: every entry, a summary and the worst entries.
public struct CheckResult: Sendable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        case gradient, jacobian, vectorJacobianProduct, jacobianVectorProduct, adjoint, hessianVectorProduct,
            directional
    }
    public enum Mode: String, Sendable, Codable { case full, fast }

    public var kind: Kind
    public var mode: Mode
    public var precision: String
    public var entries: [EntryResult]
    public var evaluations: Int
    /// The seed of the random directions (fast mode, adjoint and HVP), to reproduce the check.
    public var seed: UInt64
    /// The relative resolution the verdicts were decided at.
    public var resolution: Double = 0
    /// The first entries (at most 6) of the point the check was made at, for messages.
    public var point: [Double] = []
    /// The input's length.
    public var inputCount: Int = 0

    /// `pass` only if every entry passed; `fail` if any entry is a resolved mismatch.
    public var outcome: CheckOutcome {
        if entries.contains(where: { $0.verdict == .mismatch }) { return .fail }
        if entries.isEmpty || entries.contains(where: { $0.verdict == .inconclusive }) { return .inconclusive }
        return .pass
    }
    /// True only when every entry is decided `pass` (an inconclusive entry is not a pass).
    public var passed: Bool { outcome == .pass }
    public var failed: Bool { outcome == .fail }
    public var mismatches: [EntryResult] { entries.filter { $0.verdict == .mismatch } }
    public var inconclusiveEntries: [EntryResult] { entries.filter { $0.verdict == .inconclusive } }
    public var kinks: [EntryResult] { entries.filter { $0.reason == .kink } }
    public var maxRelativeError: Double { entries.map(\.relativeError).max() ?? 0 }
    public var maxAbsoluteError: Double { entries.map(\.absoluteError).max() ?? 0 }
    /// The largest per-entry detectable relative error among the entries that passed.
    public var detectableRelativeError: Double {
        entries.filter { $0.verdict == .pass }.map(\.detectableRelativeError).max() ?? .infinity
    }

    /// The `k` entries closest to (or furthest past) failing; inconclusive entries first after failures.
    public func worst(_ k: Int = 5) -> [EntryResult] {
        func rank(_ e: EntryResult) -> Int { e.verdict == .mismatch ? 0 : (e.verdict == .inconclusive ? 1 : 2) }
        return Array(
            entries.sorted { rank($0) != rank($1) ? rank($0) < rank($1) : $0.severity > $1.severity }.prefix(k))
    }

    public var summary: String {
        let v: String
        switch outcome {
        case .pass: v = "PASS"
        case .fail: v = "FAIL"
        case .inconclusive: v = "INCONCLUSIVE"
        }
        return "\(v): \(kind.rawValue) (\(mode.rawValue), \(precision)), \(entries.count) entries, \(mismatches.count) "
            + "mismatches, \(inconclusiveEntries.count) inconclusive, max rel. error \(fmt(maxRelativeError)), "
            + "detectable rel. error \(fmt(detectableRelativeError)) (resolution \(fmt(resolution))), "
            + "\(evaluations) evaluations, seed \(seed)" + pointDescription
    }

    var pointDescription: String {
        guard !point.isEmpty else { return "" }
        let shown = point.map { fmt($0, 6) }.joined(separator: ", ")
        return ", at x = [" + shown + (inputCount > point.count ? ", … (\(inputCount) entries)]" : "]")
    }

    /// A summary line, a table of the worst entries with their indices, and what to try for
    /// each inconclusive reason present.
    public var description: String {
        var s = summary + "\n"
        s +=
            "  index        analytic              numerical             est. error   abs. error   "
            + "detectable   verdict\n"
        for e in worst(8) {
            let idx = "[" + e.index.map(String.init).joined(separator: ",") + "]"
            s +=
                "  " + pad(idx, 12) + " " + pad(fmt(e.analytic, 15), 21) + " " + pad(fmt(e.numerical, 15), 21) + " "
                + pad(fmt(e.errorEstimate), 12) + " " + pad(fmt(e.absoluteError), 12) + " "
                + pad(fmt(e.detectableRelativeError), 12) + " " + e.verdict.rawValue
            if let r = e.reason { s += " (\(r.rawValue))" }
            if e.reason == .kink, let l = e.left, let r = e.right { s += " (left \(fmt(l, 6)), right \(fmt(r, 6)))" }
            if let h = e.step { s += " step \(fmt(h))" }
            s += "\n"
        }
        let reasons = Set(inconclusiveEntries.compactMap(\.reason))
        for r in InconclusiveReason.allCases where reasons.contains(r) { s += "  \(r.rawValue): \(r.advice)\n" }
        return s
    }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

/// Scientific notation with `digits` significant digits, without Foundation.
func fmt(_ x: Double, _ digits: Int = 2) -> String {
    if x == 0 { return "0" }
    if !x.isFinite { return "\(x)" }
    var e = Int((log10(abs(x))).rounded(.down))
    var m = x / pow(10, Double(e))
    if !m.isFinite { return "\(x)" }
    let scale = pow(10, Double(digits - 1))
    m = (m * scale).rounded() / scale
    if abs(m) >= 10 {
        m /= 10
        e += 1
    }
    var ms = "\(m)"
    if let dot = ms.firstIndex(of: "."), ms.distance(from: dot, to: ms.endIndex) > digits {
        ms = String(ms[..<ms.index(dot, offsetBy: digits)])
    }
    if digits == 1, ms.hasSuffix(".0") { ms.removeLast(2) }
    return "\(ms)e\(e >= 0 ? "+" : "")\(e)"
}
