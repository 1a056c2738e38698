import GradientCheck
import Testing

/// Records a Swift Testing issue at the caller's source location when `result` did not pass,
/// with the result's table of worst entries (indices, analytic and numerical values, error
/// estimates, verdicts) and the seed that reproduces it.
public func expectPasses(_ result: CheckResult, _ comment: Comment? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    guard !result.passed else { return }
    let prefix = comment.map { "\($0.rawValue)\n" } ?? ""
    Issue.record(Comment(rawValue: prefix + result.description), sourceLocation: sourceLocation)
}

/// Runs a check and records its failure, or the reason it could not run, at `sourceLocation`.
func expectCheck(_ what: String, sourceLocation: SourceLocation, _ check: () throws -> CheckResult) {
    do {
        expectPasses(try check(), sourceLocation: sourceLocation)
    } catch {
        Issue.record(Comment(rawValue: "\(what) could not run: \(error)"), sourceLocation: sourceLocation)
    }
}

/// Checks `gradient` against the numerical gradient of `f` at `x` and records an issue with the
/// worst entries if they disagree (or if the check itself could not run).
public func expectGradient<S: CheckScalar>(of f: ([S]) throws -> S, at x: [S], matches gradient: [S],
                                           checker: GradientChecker = GradientChecker(),
                                           sourceLocation: SourceLocation = #_sourceLocation) {
    expectCheck("gradient check", sourceLocation: sourceLocation) { try checker.checkGradient(of: f, at: x, gradient: gradient) }
}

/// The same for a caller's reverse-mode product.
public func expectVJP<S: CheckScalar>(of g: ([S]) throws -> [S], at x: [S], vjp: ([S]) throws -> [S],
                                      checker: GradientChecker = GradientChecker(),
                                      sourceLocation: SourceLocation = #_sourceLocation) {
    expectCheck("VJP check", sourceLocation: sourceLocation) { try checker.checkVJP(of: g, at: x, vjp: vjp) }
}
