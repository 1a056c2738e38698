import RealModule

/// The floating-point types the layers are generic over (`Float` and `Double`).
///
/// `Real` (swift-numerics) supplies `exp`, `log` and `sqrt` generically; `BinaryFloatingPoint`
/// supplies `ulpOfOne` so that tolerances can be derived from the type's unit roundoff.
/// `SIMDScalar` lets the kernels work on `SIMD8` lanes of either type.
public protocol NormScalar: Real, BinaryFloatingPoint, SIMDScalar, Codable, Sendable, LosslessStringConvertible {}

extension Float: NormScalar {}
extension Double: NormScalar {}

extension NormScalar {
    /// Unit roundoff `u = ε_mach / 2` of the type (round-to-nearest).
    @inlinable public static var unitRoundoff: Self { ulpOfOne / 2 }
}
