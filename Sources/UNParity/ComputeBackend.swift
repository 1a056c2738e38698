/// The floating-point format a kernel runs in.
public enum Precision: String, Sendable, Codable, CaseIterable {
    case float, double
    /// Unit roundoff of the format.
    public var unitRoundoff: Double { self == .float ? Double(Float.ulpOfOne) / 2 : Double.ulpOfOne / 2 }
}

/// Whether a backend can run here, and if not, why.
public enum Availability: Sendable, Equatable {
    case available(device: String)
    case notAvailable(reason: String)
}

/// Why a backend call failed.
public struct BackendError: Error, Equatable, Sendable, CustomStringConvertible {
    public var backend: String
    public var message: String
    public init(_ backend: String, _ message: String) {
        self.backend = backend
        self.message = message
    }
    public var description: String { "\(backend): \(message)" }
}

/// The kernels of UN's hardware path, one implementation per backend. Inputs are given as
/// `Double` values that are exactly representable in the requested precision, so every
/// backend sees bit-identical inputs; outputs come back as `Double`.
public protocol ComputeBackend {
    var name: String { get }
    var availability: Availability { get }
    func supports(_ p: Precision) -> Bool
    /// (1) `y = a ⊙ x + b` per channel over `rows × channels`.
    func affine(x: [Double], scale: [Double], shift: [Double], channels: Int, precision: Precision) throws -> [Double]
    /// (2) `y = W x + c` per row (`W` is `outputs × inputs`).
    func linear(
        x: [Double], weight: [Double], bias: [Double], inputs: Int, outputs: Int, rows: Int, precision: Precision
    ) throws -> [Double]
    /// (3a) per-channel mean of `x²` over the real rows.
    func meanSquare(x: [Double], realRows: [Bool], channels: Int, precision: Precision) throws -> [Double]
    /// (3b) per-channel `exp(mean(log w))` over a slot-major `window × channels` buffer.
    func logGeometricMean(buffer: [Double], window: Int, channels: Int, precision: Precision) throws -> [Double]
    /// (4) LayerNorm forward per row.
    func layerNorm(x: [Double], gamma: [Double], beta: [Double], channels: Int, eps: Double, precision: Precision)
        throws -> [Double]
}
