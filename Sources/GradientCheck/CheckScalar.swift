/// The precisions a checked function may compute in. The checker itself does its
/// extrapolation arithmetic in `Double`; the function's own precision sets the noise level.
public protocol CheckScalar: BinaryFloatingPoint, Sendable, LosslessStringConvertible {}
extension Float: CheckScalar {}
extension Double: CheckScalar {}

extension CheckScalar {
    /// Unit roundoff `u` of the type, as a `Double`.
    static var unitRoundoff: Double { Double(Self.ulpOfOne) / 2 }
}
