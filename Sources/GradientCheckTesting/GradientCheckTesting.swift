import GradientCheck
import Testing

#if canImport(_Differentiation)
import _Differentiation
#endif

/// What an `inconclusive` result does in a test.
public enum InconclusivePolicy: Sendable {
    /// Record an issue with the reason and what to try (the default: no verdict is not a pass).
    case recordIssue
    /// Accept it silently: for a test that deliberately probes a point where finite
    /// differences cannot decide.
    case accept
}

/// Records a Swift Testing issue at the caller's source location when `result` did not pass,
/// headed by the check's name, with the table of worst entries (indices, analytic and numerical
/// values, error estimates, detectable errors, verdicts and reasons) and the seed.
///
/// - Parameters:
///   - result: a check's result.
///   - comment: prepended to the issue.
///   - inconclusive: whether an undecided result records an issue (default) or is accepted.
public func expectPasses(
    _ result: CheckResult, _ comment: Comment? = nil, inconclusive: InconclusivePolicy = .recordIssue,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    switch result.outcome {
    case .pass: return
    case .inconclusive where inconclusive == .accept: return
    case .fail, .inconclusive: break
    }
    let headline = "\(result.kind.rawValue) check " + (result.outcome == .fail ? "failed" : "was inconclusive")
    let prefix = comment.map { "\($0.rawValue)\n" } ?? ""
    Issue.record(Comment(rawValue: prefix + headline + "\n" + result.description), sourceLocation: sourceLocation)
}

/// Runs a check and records its failure, its inconclusive outcome, or the reason it could not run.
func expectCheck(
    _ what: String, _ comment: Comment?, _ inconclusive: InconclusivePolicy, sourceLocation: SourceLocation,
    _ check: () throws -> CheckResult
) {
    do {
        expectPasses(try check(), comment, inconclusive: inconclusive, sourceLocation: sourceLocation)
    } catch {
        let prefix = comment.map { "\($0.rawValue)\n" } ?? ""
        Issue.record(Comment(rawValue: prefix + "\(what) could not run: \(error)"), sourceLocation: sourceLocation)
    }
}

/// Checks `gradient` against the numerical gradient of `f` at `x`; records an issue with the
/// worst entries on a failure or an inconclusive result (or if the check could not run).
public func expectGradient<T: Flattenable>(
    of f: (T) throws -> T.Scalar, at x: T, matches gradient: T,
    _ comment: Comment? = nil, checker: GradientChecker = GradientChecker(),
    inconclusive: InconclusivePolicy = .recordIssue,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectCheck("gradient check", comment, inconclusive, sourceLocation: sourceLocation) {
        try checker.checkGradient(of: f, at: x, gradient: gradient)
    }
}

/// The same for a full Jacobian, given as rows.
public func expectJacobian<S: CheckScalar>(
    of g: ([S]) throws -> [S], at x: [S], matches jacobian: [[S]],
    _ comment: Comment? = nil, checker: GradientChecker = GradientChecker(),
    inconclusive: InconclusivePolicy = .recordIssue,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectCheck("Jacobian check", comment, inconclusive, sourceLocation: sourceLocation) {
        try checker.checkJacobian(of: g, at: x, jacobian: jacobian)
    }
}

/// The same for a caller's reverse-mode product `Jᵀu`.
public func expectVJP<S: CheckScalar>(
    of g: ([S]) throws -> [S], at x: [S], vjp: ([S]) throws -> [S],
    _ comment: Comment? = nil, checker: GradientChecker = GradientChecker(),
    inconclusive: InconclusivePolicy = .recordIssue,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectCheck("VJP check", comment, inconclusive, sourceLocation: sourceLocation) {
        try checker.checkVJP(of: g, at: x, vjp: vjp)
    }
}

/// The same for a caller's forward-mode product `Jv`.
public func expectJVP<S: CheckScalar>(
    of g: ([S]) throws -> [S], at x: [S], jvp: ([S]) throws -> [S],
    _ comment: Comment? = nil, checker: GradientChecker = GradientChecker(),
    inconclusive: InconclusivePolicy = .recordIssue,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectCheck("JVP check", comment, inconclusive, sourceLocation: sourceLocation) {
        try checker.checkJVP(of: g, at: x, jvp: jvp)
    }
}

/// The same for a Hessian–vector product against the numerical derivative of `gradient`.
public func expectHVP<S: CheckScalar>(
    gradient: ([S]) throws -> [S], at x: [S], hvp: ([S]) throws -> [S],
    _ comment: Comment? = nil, checker: GradientChecker = GradientChecker(),
    inconclusive: InconclusivePolicy = .recordIssue,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    expectCheck("HVP check", comment, inconclusive, sourceLocation: sourceLocation) {
        try checker.checkHVP(gradient: gradient, at: x, hvp: hvp)
    }
}

#if canImport(_Differentiation)
/// The compiler's (or a registered) derivative of `f` against numerical derivatives.
public func expectDifferentiable<S: CheckScalar & Differentiable>(
    _ f: @differentiable(reverse) ([S]) -> S, at x: [S], _ comment: Comment? = nil,
    checker: GradientChecker = GradientChecker(), inconclusive: InconclusivePolicy = .recordIssue,
    sourceLocation: SourceLocation = #_sourceLocation
) where S.TangentVector == S {
    expectCheck("differentiable-function check", comment, inconclusive, sourceLocation: sourceLocation) {
        try checker.checkDifferentiable(f, at: x)
    }
}

/// The same for a function of any differentiable ``Flattenable`` value (a SIMD vector, a struct).
public func expectDifferentiable<T: Differentiable & Flattenable>(
    _ f: @differentiable(reverse) (T) -> T.Scalar, at x: T, _ comment: Comment? = nil,
    checker: GradientChecker = GradientChecker(), inconclusive: InconclusivePolicy = .recordIssue,
    sourceLocation: SourceLocation = #_sourceLocation
)
where
    T.Scalar: Differentiable, T.Scalar.TangentVector == T.Scalar, T.TangentVector: Flattenable,
    T.TangentVector.Scalar == T.Scalar
{
    expectCheck("differentiable-function check", comment, inconclusive, sourceLocation: sourceLocation) {
        try checker.checkDifferentiable(f, at: x)
    }
}
#endif
