import Testing

@testable import GradientCheck

@Suite("Stencils and extrapolation")
struct StencilTests {
    /// Coefficients against the textbook values (exact rationals, compared to 1e-14 since the
    /// Vandermonde solve rounds; the smallest coefficient is 1/12).
    @Test func knownCoefficients() throws {
        func close(_ a: [Double], _ b: [Double]) -> Bool {
            zip(a, b).allSatisfy { abs($0 - $1) < 1e-14 } && a.count == b.count
        }
        #expect(close(try Stencil(points: 3).coefficients, [-0.5, 0, 0.5]))
        #expect(close(try Stencil(points: 5).coefficients, [1.0 / 12, -2.0 / 3, 0, 2.0 / 3, -1.0 / 12]))
        #expect(close(try Stencil(points: 3, side: .forward).coefficients, [-1.5, 2, -0.5]))
        #expect(close(try Stencil(points: 3, side: .backward).coefficients, [1.5, -2, 0.5]))
        #expect(close(try Stencil(points: 3, derivativeOrder: 2).coefficients, [1, -2, 1]))
        #expect(try Stencil(points: 5).accuracyOrder == 4)
        #expect(try Stencil(points: 3, side: .forward).accuracyOrder == 2)
        #expect(throws: GradientCheckError.self) { _ = try Stencil(points: 1) }
    }

    /// Richardson on central differences of `exp` at 0 reaches near machine precision.
    @Test func richardsonOnExp() throws {
        let r = try Richardson(exponent: 2).extrapolate(from: 0.5) { h in [(exp(h) - exp(-h)) / (2 * h)] }
        #expect(abs(r.value[0] - 1) < 1e-14)
        #expect(r.error[0] < 1e-12)
    }

    /// Invalid tableau and stencil options are typed errors (probe campaign: `maxRows: 0` trapped
    /// on an empty range, `derivativeOrder: -1` gave coefficients [0, 0, 0], a NaN ratio ran).
    @Test func invalidOptionsThrow() {
        let f: (Double) -> [Double] = { [$0] }
        #expect(throws: GradientCheckError.self) {
            _ = try Richardson(exponent: 2, maxRows: 0).extrapolate(from: 0.1, f)
        }
        #expect(throws: GradientCheckError.self) {
            _ = try Richardson(exponent: 2, ratio: .nan).extrapolate(from: 0.1, f)
        }
        #expect(throws: GradientCheckError.self) { _ = try Richardson(exponent: 2, ratio: 1).extrapolate(from: 0.1, f) }
        #expect(throws: GradientCheckError.self) { _ = try Richardson(exponent: 0).extrapolate(from: 0.1, f) }
        #expect(throws: GradientCheckError.self) { _ = try Richardson(exponent: 2).extrapolate(from: .nan, f) }
        #expect(throws: GradientCheckError.self) { _ = try Stencil(points: 3, derivativeOrder: -1) }
        #expect(throws: GradientCheckError.self) { _ = try Stencil(points: 3, derivativeOrder: 0) }
    }

    /// The plain-stencil method: 5-point stencil at the optimal step, ≈ u^{4/5} accuracy.
    @Test func stencilMethod() throws {
        var c = GradientChecker()
        c.estimator = DerivativeEstimator(method: .stencil(points: 5))
        let g = try c.numericalGradient(of: { (x: [Double]) in sin(x[0]) }, at: [1.0])
        #expect(abs(g.value[0] - cos(1.0)) < 1e-11)
        #expect(g.error[0] >= abs(g.value[0] - cos(1.0)))
    }

    /// FiniteDifferences.jl reaches about 2e-14 on sin'(1); so must we.
    @Test func sinAtOne() throws {
        let g = try GradientChecker().numericalGradient(of: { (x: [Double]) in sin(x[0]) }, at: [1.0])
        #expect(abs(g.value[0] - cos(1.0)) < 2e-14)
    }
}

#if canImport(Glibc)
import Glibc
#endif
