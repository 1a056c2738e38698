#if canImport(_Differentiation)
import _Differentiation

/// Checking Swift's differentiable programming: the derivative the compiler synthesizes (or a
/// custom `@derivative(of:)` registration) against numerical derivatives. Built only on
/// toolchains with `_Differentiation`; the rest of the module does not need it.
extension GradientChecker {
    /// `gradient(at:of:)` of a `@differentiable(reverse)` function of an array.
    ///
    /// - Returns: the gradient check of the compiler's gradient.
    /// - Throws: ``GradientCheckError`` as ``checkGradient(of:at:gradient:termMagnitudes:)``.
    public func checkDifferentiable<S: CheckScalar & Differentiable>(
        _ f: @differentiable(reverse) ([S]) -> S, at x: [S]
    ) throws -> CheckResult where S.TangentVector == S {
        let g = gradient(at: x, of: f)
        return try checkGradient(of: { f($0) }, at: x, gradient: Array(g.base))
    }

    /// A function of any ``Flattenable`` differentiable value: a scalar, a SIMD vector, or your struct of
    /// parameters. Its `TangentVector` must be ``Flattenable`` too, with entries in the same
    /// order as the value's (true of SIMD vectors, whose tangent is themselves).
    ///
    /// - Throws: ``GradientCheckError`` as ``checkGradient(of:at:gradient:termMagnitudes:)``, and
    ///   `sizeMismatch` when the tangent flattens to a different length than the value.
    public func checkDifferentiable<T: Differentiable & Flattenable>(
        _ f: @differentiable(reverse) (T) -> T.Scalar, at x: T
    ) throws -> CheckResult
    where
        T.Scalar: Differentiable, T.Scalar.TangentVector == T.Scalar, T.TangentVector: Flattenable,
        T.TangentVector.Scalar == T.Scalar
    {
        let g = gradient(at: x, of: f).flattened()
        let xs = x.flattened()
        guard g.count == xs.count else {
            throw GradientCheckError.sizeMismatch(what: "tangent vector", expected: xs.count, actual: g.count)
        }
        return try checkGradient(of: { (v: [T.Scalar]) in f(try x.unflattened(v)) }, at: xs, gradient: g)
    }

    /// A function of two arguments; the entries are those of `x`, then those of `y`.
    ///
    /// - Throws: ``GradientCheckError`` as ``checkGradient(of:at:gradient:termMagnitudes:)``.
    public func checkDifferentiable<T: Differentiable & Flattenable, U: Differentiable & Flattenable>(
        _ f: @differentiable(reverse) (T, U) -> T.Scalar, at x: T, _ y: U
    ) throws -> CheckResult
    where
        U.Scalar == T.Scalar, T.Scalar: Differentiable, T.Scalar.TangentVector == T.Scalar,
        T.TangentVector: Flattenable, T.TangentVector.Scalar == T.Scalar,
        U.TangentVector: Flattenable, U.TangentVector.Scalar == T.Scalar
    {
        let (gx, gy) = gradient(at: x, y, of: f)
        let nx = x.flattened().count
        let g = gx.flattened() + gy.flattened()
        let xs = x.flattened() + y.flattened()
        guard g.count == xs.count else {
            throw GradientCheckError.sizeMismatch(what: "tangent vectors", expected: xs.count, actual: g.count)
        }
        return try checkGradient(
            of: { (v: [T.Scalar]) in
                f(try x.unflattened(Array(v[..<nx])), try y.unflattened(Array(v[nx...])))
            }, at: xs, gradient: g)
    }

    /// A vector-valued function `ℝⁿ → ℝᵐ`: its pullback (reverse-mode product `Jᵀu`) against the
    /// numerical Jacobian, through ``checkVJP(of:at:vjp:)`` (full or fast mode as `size` says).
    ///
    /// - Throws: ``GradientCheckError`` as ``checkVJP(of:at:vjp:)``.
    public func checkDifferentiable<S: CheckScalar & Differentiable>(
        _ f: @differentiable(reverse) ([S]) -> [S], at x: [S]
    ) throws -> CheckResult where S.TangentVector == S {
        let (y, pullback) = valueWithPullback(at: x, of: f)
        return try checkVJP(
            of: { f($0) }, at: x,
            vjp: { u in
                guard u.count == y.count else {
                    throw GradientCheckError.sizeMismatch(what: "cotangent", expected: y.count, actual: u.count)
                }
                return Array(pullback(Array<S>.DifferentiableView(u)).base)
            })
    }
}
#endif
