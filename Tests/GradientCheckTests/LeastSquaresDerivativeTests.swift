import Testing

@testable import GradientCheck

#if canImport(Glibc)
import Glibc
#endif

@Suite("Least-squares derivative (the refinement of undecided entries)")
struct LeastSquaresDerivativeTests {
    static func samples(_ pairs: Int, _ h: Double, _ g: (Double) -> Double) -> LeastSquaresDerivative {
        var t = [0.0]
        for k in 1...pairs { t += [h * Double(k) / Double(pairs), -h * Double(k) / Double(pairs)] }
        return LeastSquaresDerivative(t: t, values: t.map { [g($0)] }, halfWidth: h)
    }

    /// A cubic is fitted exactly at every degree: the slope is its linear coefficient to rounding
    /// (QR on a 65 × 12 Vandermonde matrix of condition ~1e4: 1e-11 is generous by 100×).
    @Test func polynomialSlopeIsExact() {
        let fit = Self.samples(32, 0.5) { 2 + 0.75 * $0 - 3 * $0 * $0 + 1.5 * $0 * $0 * $0 }.estimate()
        #expect(abs(fit.value[0] - 0.75) < 1e-11, "\(fit)")
        #expect(fit.error[0] < 1e-10, "\(fit)")
    }

    /// Generated: sin(a + t) sampled with independent noise of size σ (a seeded generator); the band
    /// (six standard errors plus the truncation seen between degrees) covers the true error in every
    /// case, and its median is between 20 and 120 times σ/(H√M): six standard errors of the cubic
    /// fit's slope are `6 · √18.75 · σ_noise/(H√M) ≈ 26 σ/(H√M)` (uniform noise of half-width 1.7σ
    /// has `σ_noise ≈ 0.98σ`; `18.75 = ((AᵀA)⁻¹)₁₁ · M` for the odd basis s, s³ on [−1, 1]), and the
    /// truncation term, measured from the noisier higher-degree slopes, adds about twice that
    /// (median measured: 79). The band measures the noise; it does not inflate it without bound.
    @Test func bandCoversTheTrueErrorUnderNoise() {
        var rng = SeededGenerator(seed: 91)
        var uncovered: [String] = []
        var ratios: [Double] = []
        for _ in 0..<300 {
            let a = Double.random(in: -3...3, using: &rng)
            let sigma = pow(10, Double.random(in: -12 ... -5, using: &rng))
            let h = Double.random(in: 0.05...0.5, using: &rng)
            let noise = (0..<257).map { _ in sigma * Double.random(in: -1.7...1.7, using: &rng) }
            var k = 0
            let fit = Self.samples(128, h) { t in
                defer { k += 1 }
                return sin(a + t) + noise[k]
            }.estimate()
            let err = abs(fit.value[0] - cos(a))
            if err > fit.error[0] { uncovered.append("a \(a) σ \(sigma) H \(h): error \(err) > band \(fit.error[0])") }
            ratios.append(fit.error[0] / (sigma / (h * 257.0.squareRoot())))
        }
        #expect(uncovered.isEmpty, "seed 91: \(uncovered.prefix(5))")
        let median = ratios.sorted()[ratios.count / 2]
        #expect(median >= 20 && median <= 120, "seed 91: median band / (σ/(H√M)) = \(median)")
    }

    /// A staircase coarser than the sampling (every value one of a few levels) is correlated noise:
    /// the band must not claim the slope to better than one quantum across the window.
    @Test func coarseStaircaseIsNotTrusted() {
        let q = 1e-3
        let fit = Self.samples(128, 0.1) { t in (0.004 * t / q).rounded() * q }.estimate()
        #expect(fit.error[0] >= q / (2 * 0.1), "\(fit)")
        let flat = Self.samples(32, 0.1) { _ in 1 }.estimate()
        #expect(flat.value[0] == 0)
    }
}
