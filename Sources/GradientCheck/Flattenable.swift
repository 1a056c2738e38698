/// A value the checker can differentiate: it flattens to a vector of scalars and can be rebuilt
/// from one of the same length. Conform a struct of arrays (a layer's parameters, say) to check
/// derivatives with respect to it directly.
public protocol Flattenable {
    associatedtype Scalar: CheckScalar
    /// The entries in a fixed order.
    func flattened() -> [Scalar]
    /// A value of the same structure as `self` with the given entries.
    ///
    /// - Throws: ``GradientCheckError/sizeMismatch(what:expected:actual:)`` (or your own error)
    ///   when `entries` has the wrong length.
    func unflattened(_ entries: [Scalar]) throws -> Self
}

extension Array: Flattenable where Element: CheckScalar {
    public func flattened() -> [Element] { self }
    public func unflattened(_ entries: [Element]) throws -> [Element] {
        guard entries.count == count else {
            throw GradientCheckError.sizeMismatch(what: "flattened array", expected: count, actual: entries.count)
        }
        return entries
    }
}

extension Double: Flattenable {
    public func flattened() -> [Double] { [self] }
    public func unflattened(_ entries: [Double]) throws -> Double {
        guard entries.count == 1 else {
            throw GradientCheckError.sizeMismatch(what: "flattened scalar", expected: 1, actual: entries.count)
        }
        return entries[0]
    }
}

extension Float: Flattenable {
    public func flattened() -> [Float] { [self] }
    public func unflattened(_ entries: [Float]) throws -> Float {
        guard entries.count == 1 else {
            throw GradientCheckError.sizeMismatch(what: "flattened scalar", expected: 1, actual: entries.count)
        }
        return entries[0]
    }
}

// SIMD vectors of checkable scalars flatten to their lanes (and, being their own tangent
// vectors, work with `checkDifferentiable` directly).
extension SIMD2: Flattenable where Scalar: CheckScalar {}
extension SIMD3: Flattenable where Scalar: CheckScalar {}
extension SIMD4: Flattenable where Scalar: CheckScalar {}
extension SIMD8: Flattenable where Scalar: CheckScalar {}
extension SIMD16: Flattenable where Scalar: CheckScalar {}
extension SIMD32: Flattenable where Scalar: CheckScalar {}
extension SIMD64: Flattenable where Scalar: CheckScalar {}

extension SIMD where Self: Flattenable {
    public func flattened() -> [Scalar] { indices.map { self[$0] } }
    public func unflattened(_ entries: [Scalar]) throws -> Self {
        guard entries.count == scalarCount else {
            throw GradientCheckError.sizeMismatch(
                what: "flattened SIMD vector", expected: scalarCount, actual: entries.count)
        }
        return Self(entries)
    }
}
