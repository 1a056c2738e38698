import Foundation
import GradientCheck
import Testing

/// The third probe campaign's findings in the checker's public primitives (issue 10): options that
/// gave an answer of 0 with an error of 0 (or NaN) are typed errors, and a ragged estimate is too.
@Suite("GradientCheck: option validation (third probe campaign)")
struct OptionValidationTests {
    let f: (Double) -> [Double] = { h in [(sin(1 + h) - sin(1 - h)) / (2 * h)] }

    /// Were [0.0] with error [0.0] (maxRows 10⁶: the steps underflow) and [0.75] with error [0.0]
    /// (ratio 1 + 2⁻⁵²: the extrapolation divides by a rounding). The estimator's own limits apply.
    @Test func richardsonOptionsAreBounded() throws {
        var r = Richardson(exponent: 2)
        r.maxRows = 1_000_000
        #expect(throws: GradientCheckError.self) { try r.extrapolate(from: 1, f) }
        r.maxRows = 12
        r.ratio = 1.0000000000000002
        #expect(throws: GradientCheckError.self) { try r.extrapolate(from: 0.1, f) }
        r.ratio = 5
        #expect(throws: GradientCheckError.self) { try r.extrapolate(from: 0.1, f) }
        // Arrays of different lengths were truncated by zip: [1.0] came back.
        var calls = 0
        #expect(throws: GradientCheckError.self) {
            try Richardson(exponent: 2).extrapolate(from: 0.1) { h -> [Double] in
                calls += 1
                return calls == 1 ? [h, h] : [h]
            }
        }
        // Within the limits the answer is cos 1 (the derivative of sin at 1), to the tableau's error.
        let o = try Richardson(exponent: 2).extrapolate(from: 0.1, f)
        #expect(abs(o.value[0] - cos(1)) <= max(o.error[0], 1e-13), "\(o.value) ± \(o.error)")
    }

    /// Were NaN and a step of 0: typed errors for a noise or bound that is not finite and ≥ 0.
    @Test func optimalStepValidatesItsArguments() throws {
        let st = try Stencil(points: 3)
        for (noise, bound) in [(Double.nan, 1.0), (1e-16, .infinity), (-1, 1), (1e-16, -1)] {
            #expect(throws: GradientCheckError.self, "noise \(noise), bound \(bound)") {
                try StepSelector.optimalStep(stencil: st, noise: noise, derivativeBound: bound, truncationConstant: 1)
            }
        }
        // Central 3-point, noise 1e-16, M = 1, C = 1/6: h* = (3·1·1e-16·… )^{1/3}, positive and finite.
        let h = try StepSelector.optimalStep(stencil: st, noise: 1e-16, derivativeBound: 1, truncationConstant: 1.0 / 6)
        #expect(h.isFinite && h > 1e-7 && h < 1e-4, "\(h)")
    }
}

/// The fourth probe campaign: a NaN or negative noise and an exponent whose power overflows returned
/// the first, unextrapolated estimate with an error of ∞; typed errors now.
@Suite("GradientCheck: Richardson noise and exponent")
struct RichardsonNoiseTests {
    @Test func noiseAndExponentAreValidated() {
        let f: (Double) -> [Double] = { h in [(sin(1 + h) - sin(1 - h)) / (2 * h)] }
        for noise in [Double.nan, -1, .infinity] {
            #expect(throws: GradientCheckError.self, "noise \(noise)") {
                try Richardson(exponent: 2).extrapolate(from: 0.1, noise: noise, f)
            }
        }
        for e in [0, 65, 3000, Int.max] {
            #expect(throws: GradientCheckError.self, "exponent \(e)") {
                try Richardson(exponent: e).extrapolate(from: 0.1, f)
            }
        }
    }
}
