#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Automatic choice of the first step of the extrapolation: the largest step at which the
/// central difference is already in its asymptotic regime.
///
/// With `D(h)` the central difference and `e(h) = |D(h) − D(h/2)|`, the asymptotic regime
/// (truncation `≈ a h²` dominating) shows as `e(h)/e(h/2) ≈ 4`. Starting at `h = scale/4` the
/// selector halves `h` until that ratio lies in `[3, 5.5]`, or until `e` is at the noise level
/// (the function is locally quadratic, any step works). Too large a first step would start the
/// tableau outside the Taylor regime (e.g. `sin(1000 x)` at `h = 0.25`); too small a one wastes
/// the tableau rows to round-off. The noise level is `ε_f / h` with `ε_f` the function's
/// estimated absolute noise.
public struct StepSelector: Sendable, Equatable {
    /// Maximum halvings before giving up and using the last step.
    public var maxHalvings: Int = 60
    public init(maxHalvings: Int = 60) { self.maxHalvings = maxHalvings }

    /// The optimal step of a plain stencil: minimizes `C M h^{p−q} + A ε / h^q`
    /// (`M` a bound on the `p`-th derivative, `A = Σ|c_i|`, `ε` the noise of `f`):
    /// `h* = (q A ε / ((p−q) |C| M))^{1/p}`.
    /// - Throws: ``GradientCheckError/invalidOption(name:requirement:)`` for a noise or derivative bound
    ///   that is not finite and ≥ 0, a truncation constant that is not finite, or (from extreme
    ///   arguments) a step that is not finite and > 0.
    public static func optimalStep(stencil: Stencil, noise: Double, derivativeBound: Double, truncationConstant: Double)
        throws -> Double
    {
        for (name, v) in [("noise", noise), ("derivativeBound", derivativeBound)] where !(v.isFinite && v >= 0) {
            throw GradientCheckError.invalidOption(name: name, requirement: "must be finite and ≥ 0, got \(v)")
        }
        guard truncationConstant.isFinite else {
            throw GradientCheckError.invalidOption(
                name: "truncationConstant", requirement: "must be finite, got \(truncationConstant)")
        }
        let p = Double(stencil.accuracyOrder + stencil.derivativeOrder)
        let q = Double(stencil.derivativeOrder)
        let m = max(derivativeBound * abs(truncationConstant), .leastNormalMagnitude)
        let h = pow(q * stencil.noiseAmplification * max(noise, .leastNormalMagnitude) / ((p - q) * m), 1 / p)
        guard h.isFinite, h > 0 else {
            throw GradientCheckError.invalidOption(
                name: "optimal step", requirement: "must be finite and > 0, got \(h)")
        }
        return h
    }

    /// Returns the first step for the extrapolation (the evaluations are counted by the caller's
    /// `difference`), and whether the
    /// asymptotic regime was actually seen. `order` is the power of the leading error term of
    /// `difference` (2 central, 1 one-sided): the regime is asymptotic when successive
    /// differences shrink by about `2^order`. Halving stops at `minStep` (below it the
    /// displacement is a few ulps of `x` and differences say nothing about smoothness); reaching
    /// it, or `maxHalvings`, without seeing the regime returns `found == false`: no step the
    /// check can take shows the function as smooth, and nothing built on it may be trusted.
    func initialStep(
        scale: Double, noise: Double, order: Int, minStep: Double = 0,
        difference: (Double) throws -> [Double]
    ) rethrows -> (step: Double, found: Bool, quantum: Double) {
        let expected = pow(2.0, Double(order))
        func inRegime(_ a: Double, _ b: Double) -> Bool { b > 0 && a / b >= 0.75 * expected && a / b <= 1.4 * expected }
        var h = scale / 4
        var d = [try difference(h), try difference(h / 2), try difference(h / 4)]
        var sawChange = false
        // The smallest non-zero change of f seen over a difference (|D(h)| times its width): if the
        // differences then become exactly zero, f is flat only up to that quantum, and a slope of
        // up to quantum/width could hide there; the estimator counts it as noise.
        let width: Double = order == 2 ? 2 : 1
        var quantum = Double.infinity
        func note(_ v: [Double], _ step: Double) {
            for c in v where c != 0 { quantum = min(quantum, abs(c) * width * step) }
        }
        note(d[0], h)
        note(d[1], h / 2)
        note(d[2], h / 4)
        for _ in 0..<maxHalvings {
            d.append(try difference(h / 8))
            note(d[3], h / 8)
            let e = (0..<3).map { k in zip(d[k], d[k + 1]).map { abs($0 - $1) }.max() ?? 0 }
            // Differences that changed at larger steps by a rounding-sized amount (under ~500×
            // the modelled noise of f) and are exactly zero now mean the function's values are
            // quantized at this scale (a sum whose terms are far larger than its result): flat by
            // rounding, not by smoothness. (A step function, whose changes are large, is flat.)
            if e[0] == 0 && e[1] == 0 && sawChange { return (h, false, 0) }
            if e[0] > 0 && e[0] * h / 4 <= 512 * noise { sawChange = true }
            // Rounding-sized changes that grow as the step halves, at two levels in a row: the
            // differences are noise (which grows like 1/h) over a truncation too small to see, as
            // for a function linear in this coordinate whose value cancels (so the modelled noise,
            // u·|f|, is far below the real one). Halving further only adds noise until the
            // differences quantize to 0; the largest of these steps is the best one.
            if e[0] > 0 && e[0] * h / 4 <= 512 * noise && e[1] >= e[0] && e[2] >= e[1] { return (h, true, 0) }
            if e[0] <= 8 * noise / (h / 4) {
                let flat = d[0].allSatisfy { $0 == 0 } && d[1].allSatisfy { $0 == 0 }
                return (h, true, flat && quantum.isFinite ? quantum : 0)
            }
            // Two consecutive ratios near 2^order: one alone can agree by accident before the
            // Taylor regime is reached, and a tableau started there converges to a wrong value.
            if inRegime(e[0], e[1]) && (inRegime(e[1], e[2]) || e[1] <= 8 * noise / (h / 8)) { return (h, true, 0) }
            if h / 16 < minStep { return (h, false, 0) }
            h /= 2
            d.removeFirst()
        }
        return (h, false, 0)
    }
}
