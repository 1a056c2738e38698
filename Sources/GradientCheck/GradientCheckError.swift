/// Why a check could not be carried out. Never a trap: every bad input becomes one of these.
public enum GradientCheckError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The function returned NaN or infinity (`point` says at which evaluation).
    case nonFiniteValue(point: String, value: String)
    /// The caller's function or derivative threw.
    case callbackFailed(what: String, error: String)
    /// Sizes that must agree do not.
    case sizeMismatch(what: String, expected: Int, actual: Int)
    /// Zero-length input or output.
    case emptyInput(what: String)
    /// An option outside its domain.
    case invalidOption(name: String, requirement: String)

    public var description: String {
        switch self {
        case .nonFiniteValue(let p, let v): return "the function returned \(v) at \(p)"
        case .callbackFailed(let w, let e): return "\(w) threw: \(e)"
        case .sizeMismatch(let w, let e, let a): return "size mismatch for \(w): expected \(e), got \(a)"
        case .emptyInput(let w): return "\(w) is empty"
        case .invalidOption(let n, let r): return "invalid option \(n): \(r)"
        }
    }
}

/// Calls a caller's closure, turning its errors into `callbackFailed` and non-finite results
/// into `nonFiniteValue`.
@inline(__always)
func call<S: CheckScalar>(_ what: String, _ body: () throws -> [S]) throws -> [S] {
    let v: [S]
    do { v = try body() } catch let e as GradientCheckError { throw e } catch {
        throw GradientCheckError.callbackFailed(what: what, error: "\(error)")
    }
    if let i = v.firstIndex(where: { !$0.isFinite }) {
        throw GradientCheckError.nonFiniteValue(point: "\(what), output entry \(i)", value: "\(v[i])")
    }
    return v
}
