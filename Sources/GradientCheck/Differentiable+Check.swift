import _Differentiation

/// Checking Swift's differentiable programming: the derivative the compiler synthesizes (or a
/// custom `@derivative(of:)` registration) against numerical derivatives.
extension GradientChecker {
    /// `gradient(at:of:)` of a `@differentiable(reverse)` function against the numerical gradient.
    public func checkDifferentiable<S: CheckScalar & Differentiable>(
        _ f: @differentiable(reverse) ([S]) -> S, at x: [S]
    ) throws -> CheckResult where S.TangentVector == S {
        let g = gradient(at: x, of: f)
        return try checkGradient(of: { f($0) }, at: x, gradient: Array(g.base))
    }

    /// A scalar function `ℝ → ℝ`.
    public func checkDifferentiable<S: CheckScalar & Differentiable>(
        _ f: @differentiable(reverse) (S) -> S, at x: S
    ) throws -> CheckResult where S.TangentVector == S {
        let d = gradient(at: x, of: f)
        return try checkGradient(of: { f($0[0]) }, at: [x], gradient: [d])
    }
}
