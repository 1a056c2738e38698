import UnifiedNormalization

/// Every way the lab rejects a configuration, an input or a data file. Nothing in the lab traps
/// on bad input: each check throws one of these, naming what was wrong.
public enum LabError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A configuration or option outside its domain.
    case invalidConfiguration(parameter: String, value: String, requirement: String)
    /// Two sizes that must agree do not (`what` names the array).
    case shapeMismatch(what: String, expected: [Int], actual: [Int])
    /// A NaN or infinity where a finite value is required (`index`: first offending flat index).
    case nonFinite(what: String, index: Int)
    /// A token id or label outside its range.
    case indexOutOfRange(what: String, index: Int, value: Int, range: Range<Int>)
    /// A batch without a single real (non-padded) target or key.
    case noRealTokens(what: String)
    /// A data file that cannot be read or does not have the documented format.
    case malformedData(file: String, reason: String)
    /// A normalization layer rejected its input (the layer's own typed error).
    case normalization(NormalizationError)

    public var description: String {
        switch self {
        case .invalidConfiguration(let p, let v, let r): return "invalid configuration: \(p) = \(v); \(r)"
        case .shapeMismatch(let w, let e, let a): return "shape mismatch for \(w): expected \(e), got \(a)"
        case .nonFinite(let w, let i): return "non-finite value in \(w) at flat index \(i)"
        case .indexOutOfRange(let w, let i, let v, let r):
            return "\(w)[\(i)] = \(v) is outside \(r.lowerBound)..<\(r.upperBound)"
        case .noRealTokens(let w): return "\(w): no real (non-padded) token"
        case .malformedData(let f, let r): return "malformed data file \(f): \(r)"
        case .normalization(let e): return "normalization layer: \(e)"
        }
    }
}

/// Runs a call into the numeric module, turning its error into ``LabError/normalization(_:)``.
func normalizing<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as NormalizationError {
        throw LabError.normalization(e)
    } catch let e as LabError { throw e } catch {
        throw LabError.invalidConfiguration(
            parameter: "normalization", value: "\(error)", requirement: "unexpected error")
    }
}

func requireFinite(_ values: [Double], _ what: String) throws {
    if let i = values.firstIndex(where: { !$0.isFinite }) { throw LabError.nonFinite(what: what, index: i) }
}

func requireCount(_ values: [Double], _ count: Int, _ what: String) throws {
    guard values.count == count else {
        throw LabError.shapeMismatch(what: what, expected: [count], actual: [values.count])
    }
}

func requirePositive(_ v: Int, _ name: String, atMost upper: Int = 1 << 20) throws {
    guard v >= 1, v <= upper else {
        throw LabError.invalidConfiguration(parameter: name, value: "\(v)", requirement: "must lie in 1...\(upper)")
    }
}

/// The most entries a tensor built from a configuration may have (2²⁶: 512 MiB of Double), so
/// that an absurd size is a typed error rather than an allocation that exhausts memory.
let maximumTensorEntries = 1 << 26

/// `a·b` for a tensor made from configuration sizes, at most ``maximumTensorEntries``.
func tensorEntries(_ a: Int, _ b: Int, _ what: String) throws -> Int {
    let n = try checkedProduct(a, b, what)
    guard n <= maximumTensorEntries else {
        throw LabError.invalidConfiguration(
            parameter: what, value: "\(a) × \(b)", requirement: "must have at most \(maximumTensorEntries) entries")
    }
    return n
}

/// `a·b` for sizes, a typed error instead of an overflow trap.
func checkedProduct(_ a: Int, _ b: Int, _ what: String) throws -> Int {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    guard a >= 0, b >= 0, !overflow else { throw LabError.shapeMismatch(what: what, expected: [], actual: [a, b]) }
    return p
}
