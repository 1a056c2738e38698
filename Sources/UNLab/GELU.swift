import RealModule

/// The exact GELU, `gelu(x) = x·Φ(x) = x/2·(1 + erf(x/√2))` (Hendrycks & Gimpel 2016,
/// arXiv:1606.08415), not its tanh approximation; `gelu'(x) = Φ(x) + x·φ(x)`.
public enum GELU {
    /// Elementwise `x·Φ(x)`.
    public static func forward(_ x: [Double]) -> [Double] { x.map { $0 * phi($0) } }

    /// `∂L/∂x = ∂L/∂y ⊙ (Φ(x) + x·φ(x))`, `φ` the standard normal density.
    public static func backward(_ dy: [Double], input x: [Double]) throws -> [Double] {
        try requireCount(dy, x.count, "GELU output gradient")
        return zip(dy, x).map { g, v in g * (phi(v) + v * density(v)) }
    }

    /// `Φ(x) = (1 + erf(x/√2))/2`.
    static func phi(_ x: Double) -> Double { 0.5 * (1 + Double.erf(x / 2.0.squareRoot())) }

    /// `φ(x) = exp(−x²/2)/√(2π)`.
    static func density(_ x: Double) -> Double { Double.exp(-0.5 * x * x) / (2 * Double.pi).squareRoot() }
}
