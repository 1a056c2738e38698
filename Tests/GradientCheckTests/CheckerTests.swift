import GradientCheck
import GradientCheckTesting
import Testing
import _Differentiation

#if canImport(Glibc)
import Glibc
#endif

/// `f(x) = Σ_i sin(x_i) x_{i+1} + x_0²`, with its gradient, Jacobian of a companion map, and Hessian.
enum Sample {
    static func f<S: BinaryFloatingPoint>(_ x: [S]) -> S {
        var s = x[0] * x[0]
        for i in 0..<(x.count - 1) { s += S(sin(Double(x[i]))) * x[i + 1] }
        return s
    }
    static func gradient<S: BinaryFloatingPoint>(_ x: [S]) -> [S] {
        x.indices.map { i in
            var d: Double = i == 0 ? 2 * Double(x[0]) : 0
            if i < x.count - 1 { d += cos(Double(x[i])) * Double(x[i + 1]) }
            if i > 0 { d += sin(Double(x[i - 1])) }
            return S(d)
        }
    }
    /// H v, from differentiating the gradient by hand.
    static func hvp<S: BinaryFloatingPoint>(_ x: [S], _ v: [S]) -> [S] {
        let n = x.count
        return (0..<n).map { i in
            var s = 0.0
            let xi = Double(x[i])
            if i == 0 { s += 2 * Double(v[0]) }
            if i < n - 1 { s += -sin(xi) * Double(x[i + 1]) * Double(v[i]) + cos(xi) * Double(v[i + 1]) }
            if i > 0 { s += cos(Double(x[i - 1])) * Double(v[i - 1]) }
            return S(s)
        }
    }
    /// g(x) = (x_0 x_1, exp(x_1), sin(x_0 + x_2)): ℝ³ → ℝ³.
    static func g<S: BinaryFloatingPoint>(_ x: [S]) -> [S] {
        [x[0] * x[1], S(exp(Double(x[1]))), S(sin(Double(x[0] + x[2])))]
    }
    static func jacobian<S: BinaryFloatingPoint>(_ x: [S]) -> [[S]] {
        let c = S(cos(Double(x[0] + x[2])))
        return [[x[1], x[0], 0], [0, S(exp(Double(x[1]))), 0], [c, 0, c]]
    }
    static func jvp<S: BinaryFloatingPoint>(_ x: [S], _ v: [S]) -> [S] {
        let j = jacobian(x)
        return j.map { row in zip(row, v).reduce(0) { $0 + $1.0 * $1.1 } }
    }
    static func vjp<S: BinaryFloatingPoint>(_ x: [S], _ u: [S]) -> [S] {
        let j = jacobian(x)
        return (0..<3).map { c in (0..<3).reduce(S(0)) { $0 + j[$1][c] * u[$1] } }
    }
    static let x: [Double] = [0.3, -1.2, 0.7, 2.1, -0.4]
}

@Suite("Gradient checker")
struct CheckerTests {
    // MARK: Right derivatives pass, in both precisions

    @Test func rightGradientPasses() throws {
        let r = try GradientChecker().checkGradient(of: Sample.f, at: Sample.x, gradient: Sample.gradient(Sample.x))
        #expect(r.passed, "\(r)")
        #expect(r.maxRelativeError < 1e-12)
        let xf = Sample.x.map(Float.init)
        let rf = try GradientChecker().checkGradient(of: Sample.f, at: xf, gradient: Sample.gradient(xf))
        #expect(rf.passed, "\(rf)")
        #expect(rf.precision == "Float")
    }

    @Test func rightJacobianAndProductsPass() throws {
        let x: [Double] = [0.4, -0.3, 1.1]
        let c = GradientChecker()
        expectPasses(try c.checkJacobian(of: Sample.g, at: x, jacobian: Sample.jacobian(x)))
        expectPasses(try c.checkVJP(of: Sample.g, at: x, vjp: { Sample.vjp(x, $0) }))
        expectPasses(try c.checkJVP(of: Sample.g, at: x, jvp: { Sample.jvp(x, $0) }))
        var fast = c
        fast.size = .fast(trials: 3)
        expectPasses(try fast.checkVJP(of: Sample.g, at: x, vjp: { Sample.vjp(x, $0) }))
        expectPasses(try fast.checkJVP(of: Sample.g, at: x, jvp: { Sample.jvp(x, $0) }))
        expectPasses(try c.adjointTest(inputs: 3, outputs: 3, jvp: { Sample.jvp(x, $0) }, vjp: { Sample.vjp(x, $0) }))
        expectPasses(try c.checkHVP(gradient: Sample.gradient, at: Sample.x, hvp: { Sample.hvp(Sample.x, $0) }))
        let xf = x.map(Float.init)
        expectPasses(try fast.checkVJP(of: Sample.g, at: xf, vjp: { Sample.vjp(xf, $0) }))
    }

    /// Fast mode costs the same number of evaluations whatever n is.
    @Test func fastModeCostIsIndependentOfSize() throws {
        var c = GradientChecker()
        c.size = .fast(trials: 2)
        func evals(_ n: Int) throws -> Int {
            let x = (0..<n).map { 0.1 * Double($0 + 1) }
            return try c.checkVJP(of: { [Sample.f($0)] }, at: x, vjp: { u in Sample.gradient(x).map { $0 * u[0] } })
                .evaluations
        }
        let small = try evals(8)
        let large = try evals(512)
        #expect(Double(large) < 1.5 * Double(small), "fast mode: \(small) evaluations at n=8, \(large) at n=512")
        var auto = GradientChecker()
        auto.size = .automatic(threshold: 16)
        let x = (0..<40).map { 0.05 * Double($0) }
        #expect(
            try auto.checkGradient(
                of: Sample.f, at: Array(x.prefix(16)), gradient: Sample.gradient(Array(x.prefix(16)))
            ).mode == .full)
        #expect(try auto.checkGradient(of: Sample.f, at: x, gradient: Sample.gradient(x)).mode == .fast)
        #expect(
            try auto.checkVJP(of: { [Sample.f($0)] }, at: x, vjp: { u in Sample.gradient(x).map { $0 * u[0] } }).mode
                == .fast)
    }

    // MARK: A planted wrong derivative is caught by every mode

    @Test func wrongDerivativeCaughtByEveryMode() throws {
        let x: [Double] = [0.4, -0.3, 1.1]
        var wrongJ = Sample.jacobian(x)
        wrongJ[2][0] *= 1.001  // 0.1% error in one entry
        let c = GradientChecker()
        var fast = c
        fast.size = .fast(trials: 3)
        let jr = try c.checkJacobian(of: Sample.g, at: x, jacobian: wrongJ)
        #expect(!jr.passed && jr.mismatches.count == 1 && jr.mismatches.first?.index == [2, 0], "\(jr)")
        let wrongVJP: ([Double]) -> [Double] = { u in
            (0..<3).map { c in (0..<3).reduce(0.0) { $0 + wrongJ[$1][c] * u[$1] } }
        }
        let wrongJVP: ([Double]) -> [Double] = { v in wrongJ.map { zip($0, v).reduce(0.0) { $0 + $1.0 * $1.1 } } }
        #expect(!(try c.checkVJP(of: Sample.g, at: x, vjp: wrongVJP).passed))
        #expect(!(try fast.checkVJP(of: Sample.g, at: x, vjp: wrongVJP).passed))
        #expect(!(try c.checkJVP(of: Sample.g, at: x, jvp: wrongJVP).passed))
        #expect(!(try fast.checkJVP(of: Sample.g, at: x, jvp: wrongJVP).passed))
        // The adjoint test compares the two products with each other: a JVP that is right
        // against a VJP that is wrong fails.
        #expect(!(try c.adjointTest(inputs: 3, outputs: 3, jvp: { Sample.jvp(x, $0) }, vjp: wrongVJP).passed))
        var wrongGrad = Sample.gradient(Sample.x)
        wrongGrad[3] += 1e-6
        #expect(!(try c.checkGradient(of: Sample.f, at: Sample.x, gradient: wrongGrad).passed))
        let hv = try c.checkHVP(
            gradient: Sample.gradient, at: Sample.x, hvp: { v in Sample.hvp(Sample.x, v).map { $0 * 1.0001 } })
        #expect(!hv.passed)
        // Taylor: the fitted order tells right from wrong.
        let right = try TaylorTest().run(of: Sample.f, at: Sample.x, gradient: Sample.gradient(Sample.x))
        #expect(right.verdict == .consistent, "order \(right.order ?? .nan)")
        var bad = Sample.gradient(Sample.x)
        bad[0] += 0.01
        let wrong = try TaylorTest().run(of: Sample.f, at: Sample.x, gradient: bad)
        #expect(wrong.verdict == .inconsistent, "order \(wrong.order ?? .nan)")
        #expect(abs((right.order ?? 0) - 2) < 0.2 && abs((wrong.order ?? 0) - 1) < 0.2)
    }

    /// Float: a wrong derivative 1% off is caught; the verdict scales with Float's roundoff.
    @Test func wrongDerivativeCaughtInFloat() throws {
        let xf = Sample.x.map(Float.init)
        var g = Sample.gradient(xf)
        g[1] *= 1.01
        let r = try GradientChecker().checkGradient(of: Sample.f, at: xf, gradient: g)
        #expect(r.mismatches.map(\.index) == [[1]], "\(r)")
    }

    // MARK: Kinks

    @Test func plantedKinkIsReportedAsKink() throws {
        // |x_0| + x_1² at x_0 = 0 with the right-derivative 1 claimed for x_0.
        let r = try GradientChecker().checkGradient(
            of: { (x: [Double]) in abs(x[0]) + x[1] * x[1] }, at: [0, 0.5], gradient: [1, 1])
        #expect(r.kinks.map(\.index) == [[0]], "\(r)")
        #expect(r.mismatches.isEmpty)
        #expect(abs((r.kinks[0].left ?? 0) + 1) < 1e-8 && abs((r.kinks[0].right ?? 0) - 1) < 1e-8)
        // ReLU at 0 in Float.
        let relu = try GradientChecker().checkGradient(
            of: { (x: [Float]) in max(x[0], 0) * 3 }, at: [Float(0)], gradient: [0])
        #expect(relu.kinks.count == 1, "\(relu)")
    }

    /// One-sided stencils at a domain edge: `f(x) = log(1 + x) + sqrt(x)²`-style functions that
    /// are undefined left of 0 (here the function throws for x < 0).
    @Test func oneSidedAtDomainEdge() throws {
        var c = GradientChecker()
        c.estimator.side = .forward
        let f: ([Double]) throws -> Double = { x in
            guard x[0] >= 0 else { throw GradientCheckError.invalidOption(name: "x", requirement: "x ≥ 0") }
            return log(1 + x[0]) + x[0] * x[0]
        }
        let r = try c.checkGradient(of: f, at: [0], gradient: [1])
        #expect(r.passed, "\(r)")
        #expect(r.maxRelativeError < 1e-10)
        #expect(!(try c.checkGradient(of: f, at: [0], gradient: [1.001]).passed))
        // The central default steps outside the domain, finds no central step that stays in it,
        // and falls back to the forward stencil by itself.
        let auto = try GradientChecker().checkGradient(of: f, at: [0], gradient: [1])
        #expect(auto.passed, "\(auto)")
        #expect(try GradientChecker().checkGradient(of: f, at: [0], gradient: [1.001]).failed)
    }

    // MARK: Any value type, and differentiable programming

    struct Params: Flattenable, Equatable {
        var w: [Double]
        var b: Double
        func flattened() -> [Double] { w + [b] }
        func unflattened(_ e: [Double]) throws -> Params {
            guard e.count == w.count + 1 else {
                throw GradientCheckError.sizeMismatch(what: "Params", expected: w.count + 1, actual: e.count)
            }
            return Params(w: Array(e.dropLast()), b: e.last!)
        }
    }

    @Test func flattenableStruct() throws {
        let p = Params(w: [0.5, -1, 2], b: 0.3)
        // loss = (w·x + b)² with x = (1, 2, 3)
        let x: [Double] = [1, 2, 3]
        func loss(_ p: Params) -> Double {
            let y = zip(p.w, x).reduce(p.b) { $0 + $1.0 * $1.1 }
            return y * y
        }
        let y = zip(p.w, x).reduce(p.b) { $0 + $1.0 * $1.1 }
        let grad = Params(w: x.map { 2 * y * $0 }, b: 2 * y)
        expectPasses(try GradientChecker().checkGradient(of: loss, at: p, gradient: grad))
        var wrong = grad
        wrong.b += 0.1
        #expect(!(try GradientChecker().checkGradient(of: loss, at: p, gradient: wrong).passed))
    }

    @Test func differentiableFunctions() throws {
        @differentiable(reverse) func f(_ x: [Double]) -> Double {
            x.differentiableReduce(0) { $0 + $1 * $1 * $1 }
        }
        expectPasses(try GradientChecker().checkDifferentiable(f, at: [0.5, -1.5, 2]))
        @differentiable(reverse) func h(_ x: Double) -> Double { x * x * x + 2 * x }
        expectPasses(try GradientChecker().checkDifferentiable(h, at: 0.7))
        // A wrong custom derivative registration is caught.
        #expect(!(try GradientChecker().checkDifferentiable(wronglyRegistered, at: 0.7).passed))
        expectPasses(try GradientChecker().checkDifferentiable(rightlyRegistered, at: Float(0.7)))
    }

    // MARK: Bad input

    @Test func badInputGivesTypedErrors() throws {
        let c = GradientChecker()
        #expect(throws: GradientCheckError.emptyInput(what: "input x")) {
            _ = try c.checkGradient(of: { (_: [Double]) in 0 }, at: [], gradient: [])
        }
        #expect(throws: GradientCheckError.sizeMismatch(what: "gradient", expected: 2, actual: 3)) {
            _ = try c.checkGradient(of: { (x: [Double]) in x[0] }, at: [1, 2], gradient: [1, 0, 0])
        }
        #expect {
            _ = try c.checkGradient(of: { (x: [Double]) in x[0] == 1 ? .nan : x[0] }, at: [1], gradient: [1])
        } throws: { e in if case .nonFiniteValue = e as? GradientCheckError { return true } else { return false } }
        struct Boom: Error {}
        #expect {
            _ = try c.checkGradient(of: { (_: [Double]) throws -> Double in throw Boom() }, at: [1], gradient: [1])
        } throws: { e in if case .callbackFailed = e as? GradientCheckError { return true } else { return false } }
        #expect { _ = try c.checkGradient(of: { (x: [Double]) in x[0] }, at: [.infinity], gradient: [1]) } throws: {
            e in if case .nonFiniteValue = e as? GradientCheckError { return true } else { return false }
        }
        #expect(throws: GradientCheckError.sizeMismatch(what: "vjp(e_0)", expected: 3, actual: 2)) {
            _ = try c.checkVJP(of: Sample.g, at: [1.0, 2, 3], vjp: { _ in [1, 2] })
        }
        #expect(throws: GradientCheckError.emptyInput(what: "output g(x)")) {
            _ = try c.checkJacobian(of: { (_: [Double]) in [] }, at: [1.0], jacobian: [])
        }
        #expect(throws: GradientCheckError.sizeMismatch(what: "jvp(v)", expected: 3, actual: 1)) {
            _ = try c.adjointTest(inputs: 3, outputs: 3, jvp: { (_: [Double]) in [1] }, vjp: { _ in [1, 2, 3] })
        }
    }

    /// The Swift Testing integration records an issue, with the table, when a check fails.
    @Test func testingIntegrationRecordsIssue() {
        withKnownIssue {
            expectGradient(of: { (x: [Double]) in x[0] * x[0] }, at: [3.0], matches: [5.0])
        } matching: { issue in
            issue.comments.contains { $0.rawValue.contains("FAIL") && $0.rawValue.contains("[0]") }
        }
    }

    @Test func descriptionHasTableOfWorstEntries() throws {
        let r = try GradientChecker().checkGradient(
            of: Sample.f, at: Sample.x, gradient: Sample.gradient(Sample.x).map { $0 + 1 })
        let d = r.description
        #expect(d.hasPrefix("FAIL"))
        #expect(d.contains("est. error") && d.contains("[0]") && d.contains("seed"))
    }
}

func wrongCube(_ x: Double) -> Double { x * x * x }
@derivative(of: wrongCube)
func wrongCubeDerivative(_ x: Double) -> (value: Double, pullback: (Double) -> Double) {
    (x * x * x, { 2 * x * x * $0 })  // should be 3x²
}
@differentiable(reverse) func wronglyRegistered(_ x: Double) -> Double { wrongCube(x) }

func rightCube(_ x: Float) -> Float { x * x * x }
@derivative(of: rightCube)
func rightCubeDerivative(_ x: Float) -> (value: Float, pullback: (Float) -> Float) {
    (x * x * x, { 3 * x * x * $0 })
}
@differentiable(reverse) func rightlyRegistered(_ x: Float) -> Float { rightCube(x) }
