#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A finite-difference stencil: grid offsets `k_i` and coefficients `c_i` such that
/// `f^{(q)}(x) ≈ h^{-q} Σ c_i f(x + k_i h)`.
///
/// Coefficients are the solution of the Vandermonde system `Σ c_i k_i^j = j! δ_{jq}`,
/// `j = 0..p−1`, so the stencil is exact for polynomials of degree `< p` and its truncation
/// error is `C h^{p−q} f^{(p)}(ξ)` with `C = Σ c_i k_i^p / p!` (central stencils gain one order
/// by symmetry).
public struct Stencil: Sendable, Equatable {
    public enum Side: String, Sendable, Codable, CaseIterable {
        /// Symmetric grid around `x` (the default).
        case central
        /// Points at `x, x+h, x+2h, …`: for a point at the lower edge of a domain.
        case forward
        /// Points at `x, x−h, x−2h, …`: for a point at the upper edge of a domain.
        case backward
    }

    public let grid: [Double]
    public let coefficients: [Double]
    public let derivativeOrder: Int
    /// The power of `h` of the leading truncation term.
    public let accuracyOrder: Int

    /// A `points`-point stencil for the `derivativeOrder`-th derivative.
    ///
    /// - Parameters:
    ///   - points: grid points, `derivativeOrder + 1 … 15`.
    ///   - derivativeOrder: `q`, the derivative approximated.
    ///   - side: symmetric grid, or one-sided at a domain edge.
    /// - Throws: ``GradientCheckError/invalidOption(name:requirement:)`` outside those ranges.
    public init(points: Int, derivativeOrder q: Int = 1, side: Side = .central) throws {
        guard q >= 1 else {
            throw GradientCheckError.invalidOption(name: "derivativeOrder", requirement: "must be ≥ 1, got \(q)")
        }
        guard points > q, points <= 15 else {
            throw GradientCheckError.invalidOption(
                name: "points", requirement: "must exceed the derivative order and be ≤ 15")
        }
        let grid: [Double]
        switch side {
        case .central:
            if points % 2 == 1 {
                grid = (0..<points).map { Double($0 - points / 2) }
            } else {
                grid = (0..<points).map { Double($0 - points / 2) + ($0 >= points / 2 ? 1 : 0) }
            }  // skip 0
        case .forward: grid = (0..<points).map(Double.init)
        case .backward: grid = (0..<points).map { -Double($0) }
        }
        let p = grid.count
        // Solve the Vandermonde system by Gaussian elimination with partial pivoting (p ≤ 15).
        var a = (0..<p).map { j in grid.map { pow($0, Double(j)) } }
        var b = (0..<p).map { $0 == q ? Double((1...max(q, 1)).reduce(1, *)) : 0 }
        if q == 0 { b[0] = 1 }
        for col in 0..<p {
            let piv = (col..<p).max { abs(a[$0][col]) < abs(a[$1][col]) }!
            a.swapAt(col, piv)
            b.swapAt(col, piv)
            for r in (col + 1)..<p where a[col][col] != 0 {
                let f = a[r][col] / a[col][col]
                for k in col..<p { a[r][k] -= f * a[col][k] }
                b[r] -= f * b[col]
            }
        }
        var c = [Double](repeating: 0, count: p)
        for r in stride(from: p - 1, through: 0, by: -1) {
            var s = b[r]
            for k in (r + 1)..<p { s -= a[r][k] * c[k] }
            c[r] = s / a[r][r]
        }
        // Clean tiny coefficients produced by rounding (central stencils have an exact 0 at k=0).
        self.coefficients = c.map { abs($0) < 1e-13 ? 0 : $0 }
        self.grid = grid
        self.derivativeOrder = q
        let symmetric = side == .central && q % 2 == 1 && points % 2 == 1 || side == .central && points % 2 == 0
        self.accuracyOrder = p - q + (symmetric && side == .central ? (p - q) % 2 : 0)
    }

    /// `Σ |c_i|`: the factor by which the stencil amplifies absolute noise in `f`.
    public var noiseAmplification: Double { coefficients.reduce(0) { $0 + abs($1) } }

    /// Applies the stencil to vector-valued samples `f(x + k_i h)`.
    func apply(_ samples: [[Double]], step h: Double) -> [Double] {
        var out = [Double](repeating: 0, count: samples[0].count)
        for (i, s) in samples.enumerated() where coefficients[i] != 0 {
            for j in out.indices { out[j] += coefficients[i] * s[j] }
        }
        let hq = pow(h, Double(derivativeOrder))
        return out.map { $0 / hq }
    }
}
