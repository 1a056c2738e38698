import ExactArithmetic
import GradientCheck

/// A window of positive statistics given by their square roots `s_i`, so that `w_i = s_i²`
/// and `√w_i = s_i` are all exact: the claims about `V(Ω^{1/2})` can then be decided in
/// rational arithmetic. Roots carry at most 26 significant bits so `s_i²` is exact in Double.
public struct RootWindow: Sendable, CustomStringConvertible, Equatable {
    public var roots: [Double]
    public init(roots: [Double]) { self.roots = roots }
    public var window: [Double] { roots.map { $0 * $0 } }
    public var m: Int { roots.count }
    public var description: String { "roots \(roots) (window \(window))" }

    /// A root from a 26-bit mantissa and a binary exponent: exactly representable square.
    public static func root(mantissa: Int, exponent: Int) -> Double {
        Double(max(1, mantissa & ((1 << 26) - 1))) * pow2(exponent - 26)
    }
}

/// Edge-aimed generation of windows (the report's generator; the tests use swift-property-based
/// generators of the same shapes, with shrinking).
public enum WindowShape: Int, CaseIterable, Sendable {
    case nearlyEqual, wideRange, heavyTail, oneHugeOutlier, oneTinyOutlier, windowOfTwo, allEqual, uniform

    /// Builds a window of `m` roots of this shape from raw draws (26-bit mantissas, exponents in
    /// ±60, one per entry). One definition of the shapes serves the report's generator and the
    /// property tests' (whose integer generators shrink towards small, plain windows).
    public func build(m: Int, mantissas: [Int], exponents: [Int]) -> RootWindow {
        let m = self == .windowOfTwo ? 2 : max(2, min(m, mantissas.count, exponents.count))
        let mant = mantissas.map { (1 << 25) | ($0 & ((1 << 25) - 1)) }
        let e0 = exponents[0] % 21
        let roots: [Double]
        switch self {
        case .nearlyEqual:
            roots = (0..<m).map { RootWindow.root(mantissa: mant[0] + mant[$0] % 7 - 3, exponent: e0) }
        case .wideRange:
            roots = (0..<m).map { RootWindow.root(mantissa: mant[$0], exponent: exponents[$0]) }
        case .heavyTail:
            // Pareto-like: most entries near the base, a few far above it.
            roots = (0..<m).map {
                RootWindow.root(
                    mantissa: mant[$0], exponent: e0 + (abs(exponents[$0]) % 4 == 0 ? abs(exponents[$0]) % 40 : 0))
            }
        case .oneHugeOutlier, .oneTinyOutlier:
            let sign = self == .oneHugeOutlier ? 1 : -1
            roots = (0..<m).map { i in
                RootWindow.root(
                    mantissa: mant[i],
                    exponent: i == 0 ? e0 + sign * (5 + abs(exponents[1 % exponents.count]) % 55) : e0)
            }
        case .windowOfTwo:
            roots = (0..<2).map { RootWindow.root(mantissa: mant[$0], exponent: e0 + exponents[$0] % 4) }
        case .allEqual:
            roots = Array(repeating: RootWindow.root(mantissa: mant[0], exponent: e0), count: m)
        case .uniform:
            roots = (0..<m).map { RootWindow.root(mantissa: mant[$0], exponent: e0 + exponents[$0] % 2) }
        }
        return RootWindow(roots: roots)
    }

    /// A window of a random shape (or of `shape`), `M` in `2...maxWindow`.
    public static func random(_ rng: inout ClaimRandom, shape: WindowShape? = nil, maxWindow: Int = 8) -> RootWindow {
        let shape = shape ?? allCases[Int.random(in: 0..<allCases.count, using: &rng)]
        let m = Int.random(in: 2...maxWindow, using: &rng)
        return shape.build(
            m: m, mantissas: (0..<m).map { _ in Int.random(in: 0..<(1 << 26), using: &rng) },
            exponents: (0..<m).map { _ in Int.random(in: -60...60, using: &rng) })
    }
}
