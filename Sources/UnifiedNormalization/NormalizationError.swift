/// Every way a configuration or an input can be rejected. Layers throw these instead of
/// trapping or returning NaN, so that a caller always learns *which* value was wrong.
public enum NormalizationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A configuration value outside its domain (`parameter` names it, `requirement` says why).
    case invalidConfiguration(parameter: String, value: String, requirement: String)
    /// Two sizes that must agree do not (`what` names the array).
    case shapeMismatch(what: String, expected: [Int], actual: [Int])
    /// A NaN or infinity in an input (`index` is the first offending flat index).
    case nonFinite(what: String, index: Int)
    /// A batch with no rows or no channels.
    case emptyBatch
    /// A padding mask that pads every token: no statistics can be taken.
    case noRealTokens
    /// A layer whose inference form is not a per-channel affine map cannot be folded.
    case notFoldable(layer: String, reason: String)
    /// `backward` was called with a cache from another layer state or shape.
    case staleCache(reason: String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let p, let v, let r):
            return "invalid configuration: \(p) = \(v); \(r)"
        case .shapeMismatch(let w, let e, let a):
            return "shape mismatch for \(w): expected \(e), got \(a)"
        case .nonFinite(let w, let i):
            return "non-finite value in \(w) at flat index \(i)"
        case .emptyBatch:
            return "empty batch: at least one token and one channel are required"
        case .noRealTokens:
            return "the padding mask pads every token: no real token to take statistics over"
        case .notFoldable(let l, let r):
            return "\(l) cannot be folded into a linear layer: \(r)"
        case .staleCache(let r):
            return "backward called with a stale cache: \(r)"
        }
    }
}

@usableFromInline
func requireFinite<S: NormScalar>(_ values: [S], _ what: String) throws {
    if let i = RowKernels.firstNonFinite(values) {
        throw NormalizationError.nonFinite(what: what, index: i)
    }
}

@usableFromInline
func requireCount<S>(_ values: [S], _ count: Int, _ what: String) throws {
    if values.count != count {
        throw NormalizationError.shapeMismatch(what: what, expected: [count], actual: [values.count])
    }
}
