import Testing
import _TestSupport

@testable import UnifiedNormalization

/// Forward and backward of every layer against the independent NumPy references in
/// `Tests/Fixtures/reference/layers.json` (complex-step gradients for the exact layers).
///
/// Tolerances, normwise relative (`max|a−e|/max|e|`):
/// - Double: `1e-12`. Each output is a sum of at most `C = 5` or `T = 8` terms, a square root and
///   a division: forward error ≤ `(n + 4) u κ` with `κ = max|x| / σ ≤ 10` on these inputs, i.e.
///   ≤ `2e-14`; the complex-step reference is exact to `u`. `1e-12` leaves a factor 50.
/// - Float: the same inputs rounded to Float (relative perturbation `u_f = 6e-8`) and computed
///   in Float: `(n + 5) u_f κ ≈ 8e-6`; the normalization's condition number in its input is ≤ 2
///   (scale invariance removes the rest), so `5e-5` bounds the total with a factor ≈ 3.
@Suite("Layers against NumPy references")
struct LayerReferenceTests {
    static func tolerance<S: NormScalar>(_: S.Type) -> Double { S.self == Double.self ? 1e-12 : 5e-5 }

    func checkStateless<S: NormScalar, L: NormalizationLayer>(
        _ make: () throws -> L, _ c: Fixtures.LayerCase, _: S.Type
    ) throws where L.Scalar == S {
        var layer = try make()
        try layer.setAffine(weight: c.weight.map { S($0) }, bias: c.bias.map { S($0) })
        let x: TokenBatch<S> = try Fixtures.batch(c.shape, c.x!, c.padMask)
        let (y, cache) = try layer.forwardTraining(x)
        let g = try layer.backward(try Fixtures.batch(c.shape, c.gradOutput!, c.padMask), cache: cache)
        let tol = Self.tolerance(S.self)
        #expect(normwiseError(y.values, c.y!) < tol, "\(c.name) y")
        #expect(normwiseError(g.input.values, c.gradInput!) < tol, "\(c.name) gradInput")
        #expect(normwiseError(g.weight, c.gradWeight!) < tol, "\(c.name) gradWeight")
        #expect(normwiseError(g.bias, c.gradBias!) < tol, "\(c.name) gradBias")
    }

    func runStateless<S: NormScalar>(_: S.Type) throws {
        let cases = try Fixtures.layerCases()
        for pad in ["nopad", "pad"] {
            try checkStateless({ try LayerNorm<S>(channels: 5) }, cases["LayerNorm-\(pad)"]!, S.self)
            try checkStateless({ try RMSNorm<S>(channels: 5) }, cases["RMSNorm-\(pad)"]!, S.self)
            try checkStateless({ try BatchNorm<S>(channels: 5) }, cases["BatchNorm-\(pad)"]!, S.self)
        }
    }

    @Test func statelessLayersDouble() throws { try runStateless(Double.self) }
    @Test func statelessLayersFloat() throws { try runStateless(Float.self) }

    func runPowerNorm<S: NormScalar>(_: S.Type) throws {
        let c = try #require(try Fixtures.layerCases()["PowerNorm-sequence"])
        var layer = try PowerNorm<S>(
            channels: 5, warmupIters: c.warmupIters!, weight: c.weight.map { S($0) }, bias: c.bias.map { S($0) })
        let tol = Self.tolerance(S.self)
        for (k, s) in c.steps!.enumerated() {
            let (y, cache) = try layer.forwardTraining(try Fixtures.batch(c.shape, s.x, c.padMask))
            let g = try layer.backward(try Fixtures.batch(c.shape, s.gradOutput, c.padMask), cache: cache)
            #expect(normwiseError(y.values, s.y) < tol, "step \(k) y")
            #expect(normwiseError(g.input.values, s.gradInput!) < tol, "step \(k) gradInput")
            #expect(normwiseError(g.weight, s.gradWeight) < tol, "step \(k) gradWeight")
            #expect(normwiseError(g.bias, s.gradBias) < tol, "step \(k) gradBias")
            #expect(normwiseError(layer.runningPhi, s.runningPhi!) < tol, "step \(k) runningPhi")
            #expect(normwiseError(layer.emaGz, s.emaGz!) < tol, "step \(k) emaGz")
        }
    }

    @Test func powerNormDouble() throws { try runPowerNorm(Double.self) }
    @Test func powerNormFloat() throws { try runPowerNorm(Float.self) }

    func runUNPaper<S: NormScalar>(_: S.Type, _ gradient: PaperGradient) throws {
        let c = try #require(try Fixtures.layerCases()["UN-paper-sequence"])
        let config = UnifiedNormConfiguration(channels: 5, forwardWindow: c.window!, warmupIters: c.warmupIters!)
        var layer = try UnifiedNorm<S>(
            configuration: config, mode: .paper(gradient), weight: c.weight.map { S($0) }, bias: c.bias.map { S($0) })
        let tol = Self.tolerance(S.self)
        for (k, s) in c.steps!.enumerated() {
            let (y, cache) = try layer.forwardTraining(try Fixtures.batch(c.shape, s.x, c.padMask))
            #expect((layer.lastRegime == .smoothed) == s.smoothed!, "step \(k) regime")
            let g = try layer.backward(try Fixtures.batch(c.shape, s.gradOutput, c.padMask), cache: cache)
            let expected = gradient == .exact ? s.gradInputExact! : s.gradInputCalibrated!
            #expect(normwiseError(y.values, s.y) < tol, "step \(k) y")
            #expect(normwiseError(g.input.values, expected) < tol, "step \(k) gradInput (\(gradient))")
            #expect(normwiseError(g.weight, s.gradWeight) < tol, "step \(k) gradWeight")
            #expect(normwiseError(g.bias, s.gradBias) < tol, "step \(k) gradBias")
        }
    }

    @Test(arguments: [PaperGradient.exact, .calibrated])
    func unPaperDouble(_ g: PaperGradient) throws { try runUNPaper(Double.self, g) }
    @Test(arguments: [PaperGradient.exact, .calibrated])
    func unPaperFloat(_ g: PaperGradient) throws { try runUNPaper(Float.self, g) }
}
