#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The verdict for one checked entry.
public enum EntryVerdict: String, Sendable, Codable {
    /// Analytic and numerical values agree within the allowed error.
    case pass
    /// They disagree beyond it, and the function is differentiable there.
    case mismatch
    /// Left and right derivatives disagree beyond their error estimates: a non-differentiable
    /// point, where no gradient is "right".
    case kink
}

/// One compared entry: a gradient component, a Jacobian element, or a projection `uᵀJv`.
public struct EntryResult: Sendable, Codable, Equatable {
    /// Where the entry sits (`[i]` for a gradient, `[row, column]` for a Jacobian, `[trial]`
    /// for a projected check).
    public var index: [Int]
    public var analytic: Double
    public var numerical: Double
    /// The estimator's bound on `|numerical − exact|`.
    public var errorEstimate: Double
    /// What the verdict allowed: `safety · errorEstimate + rounding allowance`.
    public var allowed: Double
    public var absoluteError: Double
    /// `absoluteError / max(|numerical|, scale·u)`.
    public var relativeError: Double
    public var verdict: EntryVerdict
    /// For kinks: the one-sided derivatives.
    public var left: Double?
    public var right: Double?

    /// `absoluteError / allowed`: above 1 fails.
    public var severity: Double { allowed > 0 ? absoluteError / allowed : (absoluteError > 0 ? .infinity : 0) }
}

/// The result of a check: every entry, a summary and the worst entries.
public struct CheckResult: Sendable, Codable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        case gradient, jacobian, vectorJacobianProduct, jacobianVectorProduct, adjoint, hessianVectorProduct
    }
    public enum Mode: String, Sendable, Codable { case full, fast }

    public var kind: Kind
    public var mode: Mode
    public var precision: String
    public var entries: [EntryResult]
    public var evaluations: Int
    /// The seed of the random directions (fast mode, adjoint and HVP), to reproduce the check.
    public var seed: UInt64

    public var passed: Bool { entries.allSatisfy { $0.verdict == .pass } }
    public var mismatches: [EntryResult] { entries.filter { $0.verdict == .mismatch } }
    public var kinks: [EntryResult] { entries.filter { $0.verdict == .kink } }
    public var maxRelativeError: Double { entries.map(\.relativeError).max() ?? 0 }
    public var maxAbsoluteError: Double { entries.map(\.absoluteError).max() ?? 0 }

    /// The `k` entries closest to (or furthest past) failing.
    public func worst(_ k: Int = 5) -> [EntryResult] {
        Array(entries.sorted { $0.severity > $1.severity }.prefix(k))
    }

    public var summary: String {
        let v = passed ? "PASS" : (mismatches.isEmpty ? "KINK" : "FAIL")
        return "\(v): \(kind.rawValue) (\(mode.rawValue), \(precision)), \(entries.count) entries, \(mismatches.count) mismatches, \(kinks.count) kinks, max rel. error \(fmt(maxRelativeError)), \(evaluations) evaluations, seed \(seed)"
    }

    /// A summary line and a table of the worst entries with their indices.
    public var description: String {
        var s = summary + "\n"
        s += "  index        analytic              numerical             est. error   abs. error   rel. error   verdict\n"
        for e in worst(8) {
            let idx = "[" + e.index.map(String.init).joined(separator: ",") + "]"
            s += "  " + pad(idx, 12) + " " + pad(fmt(e.analytic, 15), 21) + " " + pad(fmt(e.numerical, 15), 21) + " "
                + pad(fmt(e.errorEstimate), 12) + " " + pad(fmt(e.absoluteError), 12) + " " + pad(fmt(e.relativeError), 12) + " " + e.verdict.rawValue
            if e.verdict == .kink, let l = e.left, let r = e.right { s += " (left \(fmt(l, 6)), right \(fmt(r, 6)))" }
            s += "\n"
        }
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
    let scale = pow(10, Double(digits - 1))
    m = (m * scale).rounded() / scale
    if abs(m) >= 10 { m /= 10; e += 1 }
    var ms = "\(m)"
    if let dot = ms.firstIndex(of: "."), ms.distance(from: dot, to: ms.endIndex) > digits { ms = String(ms[..<ms.index(dot, offsetBy: digits)]) }
    if digits == 1, ms.hasSuffix(".0") { ms.removeLast(2) }
    return "\(ms)e\(e >= 0 ? "+" : "")\(e)"
}

