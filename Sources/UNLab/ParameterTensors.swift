/// A model's parameters as one flat vector and back: the gradient checker and the optimizer see
/// a model as `[Double]`, the model keeps them as its list of tensors (`[[Double]]`, in the
/// order its `parameters` documents).
public enum ParameterTensors {
    /// The tensors concatenated.
    public static func flatten(_ tensors: [[Double]]) -> [Double] { tensors.flatMap { $0 } }

    /// `flat` cut into tensors of the sizes of `like`.
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)`` if the total size differs.
    public static func unflatten(_ flat: [Double], like tensors: [[Double]]) throws -> [[Double]] {
        let total = tensors.reduce(0) { $0 + $1.count }
        guard flat.count == total else {
            throw LabError.shapeMismatch(what: "flat parameters", expected: [total], actual: [flat.count])
        }
        var out: [[Double]] = []
        var s = 0
        for t in tensors {
            out.append(Array(flat[s..<(s + t.count)]))
            s += t.count
        }
        return out
    }

    /// Checks a replacement list against the current one: same count, same sizes, all finite.
    static func validate(_ new: ArraySlice<[Double]>, like current: [[Double]], _ what: String) throws {
        guard new.count == current.count else {
            throw LabError.shapeMismatch(what: "\(what) tensors", expected: [current.count], actual: [new.count])
        }
        for (i, (a, b)) in zip(new, current).enumerated() {
            try requireCount(a, b.count, "\(what) tensor \(i)")
            try requireFinite(a, "\(what) tensor \(i)")
        }
    }
}
