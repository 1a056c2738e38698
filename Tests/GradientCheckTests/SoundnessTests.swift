import GradientCheck
import GradientCheckTesting
import Testing
import _Differentiation

#if canImport(Glibc)
import Glibc
#endif

/// `Σ_i sin(i + 1) · LN(x)_i`, ε = 1e-5, in the function's own precision, and its exact gradient
/// (computed in Double from the rounded input, so the reference carries no Float rounding).
enum LN64 {
    static func f<S: BinaryFloatingPoint>(_ x: [S]) -> S {
        let n = S(x.count)
        let m = x.reduce(0, +) / n
        let v = x.reduce(S(0)) { $0 + ($1 - m) * ($1 - m) } / n
        let s = (v + S(1e-5)).squareRoot()
        return x.indices.reduce(S(0)) { $0 + S(sin(Double($1 + 1))) * (x[$1] - m) / s }
    }
    static func gradient(_ x: [Double]) -> [Double] {
        let n = Double(x.count)
        let m = x.reduce(0, +) / n
        let v = x.reduce(0.0) { $0 + ($1 - m) * ($1 - m) } / n
        let s = (v + 1e-5).squareRoot()
        let z = x.map { ($0 - m) / s }
        let g = x.indices.map { sin(Double($0 + 1)) }
        let mg = g.reduce(0, +) / n
        let mgz = zip(g, z).reduce(0.0) { $0 + $1.0 * $1.1 } / n
        return x.indices.map { (g[$0] - mg - z[$0] * mgz) / s }
    }
    static func point(_ seed: UInt64) -> [Double] {
        var rng = SeededGenerator(seed: seed)
        return (0..<64).map { _ in Double.random(in: -3...3, using: &rng) }
    }
}

/// Each numbered reproduction of the checker-soundness issue, with its right outcome, and a
/// generated-input test per kind.
@Suite("Checker soundness: no verdict without evidence")
struct SoundnessTests {
    // MARK: 1. Float errors of 0.1% fail

    @Test func floatSinErrorOfOneThousandthFails() throws {
        let r = try GradientChecker().checkGradient(
            of: { (x: [Float]) in sin(x[0]) }, at: [1], gradient: [cos(1) * 1.001])
        #expect(r.outcome == .fail, "\(r)")
        let right = try GradientChecker().checkGradient(of: { (x: [Float]) in sin(x[0]) }, at: [1], gradient: [cos(1)])
        #expect(right.outcome == .pass, "\(right)")
    }

    /// Generated: every one of the 64 entries of a Float LayerNorm gradient, planted 0.1% off
    /// in turn (with and without the second opinion), fails at that entry; the right gradient passes.
    @Test(arguments: [true, false]) func floatLayerNormSingleEntryPlants(secondOpinion: Bool) throws {
        var c = GradientChecker()
        c.secondOpinion = secondOpinion
        let xd = LN64.point(11)
        let x = xd.map(Float.init)
        let truth = LN64.gradient(x.map(Double.init))
        let right = try c.checkGradient(of: LN64.f, at: x, gradient: truth.map(Float.init))
        #expect(right.outcome != .fail, "\(right)")
        var missed: [Int] = []
        var passed: [Int] = []
        for j in 0..<64 {
            var g = truth
            g[j] *= 1.001
            let r = try c.checkGradient(of: LN64.f, at: x, gradient: g.map(Float.init))
            if !r.mismatches.contains(where: { $0.index == [j] }) { missed.append(j) }
            if r.entries[j].verdict == .pass { passed.append(j) }
        }
        // Never a pass, and every plant caught: the tableaux leave about half of the entries
        // undecided in Float (rounding noise of the 64-term sums), and the least-squares
        // refinement decides them (before it: 62 of 64 plants passed with a second opinion).
        #expect(passed.isEmpty, "planted 0.1% errors passed at entries \(passed)")
        #expect(missed.isEmpty, "plants missed at entries \(missed)")
    }

    // MARK: 2. An infinite or huge error estimate never means PASS

    @Test func linearAtSubnormalPointWithWrongDerivative() throws {
        let c = GradientChecker()
        let wrong = try c.checkGradient(of: { (x: [Double]) in 3 * x[0] }, at: [Double("1e-310")!], gradient: [-1e6])
        #expect(wrong.outcome == .fail, "\(wrong)")
        let right = try c.checkGradient(of: { (x: [Double]) in 3 * x[0] }, at: [Double("1e-310")!], gradient: [3])
        #expect(right.outcome == .pass, "\(right)")
    }

    @Test func floorAtItsJumpIsInconclusive() throws {
        let r = try GradientChecker().checkGradient(of: { (x: [Double]) in floor(x[0]) }, at: [3], gradient: [12345])
        #expect(r.outcome == .inconclusive, "\(r)")
        #expect(!r.passed)
        // Away from the jump floor is flat between jumps of 1, which a larger slope hidden in the
        // staircase could not be told from (see quantizedStaircases): 0 is not failed, and 12345,
        // which would change f by thousands over the flat steps, fails.
        #expect(
            !(try GradientChecker().checkGradient(
                of: { (x: [Double]) in floor(x[0]) }, at: [3.5], gradient: [0]
            ).failed)
        )
        #expect(
            try GradientChecker().checkGradient(of: { (x: [Double]) in floor(x[0]) }, at: [3.5], gradient: [12345])
                .failed)
    }

    /// Generated: step functions at their jumps, with any claimed derivative, never pass.
    @Test func jumpsNeverPass() throws {
        var rng = SeededGenerator(seed: 21)
        for _ in 0..<40 {
            let jump = Double(Int.random(in: -50...50, using: &rng))
            let height = Double.random(in: 0.1...10, using: &rng)
            let claim = Double.random(in: -1e4...1e4, using: &rng)
            let r = try GradientChecker().checkGradient(
                of: { (x: [Double]) in x[0] < jump ? 0 : height }, at: [jump], gradient: [claim])
            #expect(!r.passed, "jump at \(jump), claim \(claim): \(r)")
        }
    }

    // MARK: 3. A small entry beside a large one is judged on its own

    /// The issue's example. The rounding allowance is now the entry's own, so nothing hides the
    /// small entry; but at the default first step (a quarter of |x| = 1) the rounding of a
    /// function of size 1e10 (±1e-6) limits a central difference to about ±1e-4, more than the
    /// 1.8e-4 error: the honest default outcome is "inconclusive", never "pass". With the
    /// coordinate's scale given (the function is linear in x₁), it fails at entry [1].
    @Test func smallEntryBesideLargeOne() throws {
        let f: ([Double]) -> Double = { x in 1e10 * x[0] + 2.235e-4 * x[1] }
        let r = try GradientChecker().checkGradient(of: f, at: [1, 1], gradient: [1e10, 4.84e-5])
        #expect(!r.passed && r.entries[1].verdict != .pass, "\(r)")
        var scaled = GradientChecker()
        scaled.stepScales = [1, 16]
        let s = try scaled.checkGradient(of: f, at: [1, 1], gradient: [1e10, 4.84e-5])
        #expect(s.outcome == .fail && s.mismatches.map(\.index) == [[1]], "\(s)")
        let right = try scaled.checkGradient(of: f, at: [1, 1], gradient: [1e10, 2.235e-4])
        #expect(!right.failed, "\(right)")
    }

    /// Generated: `Σ a_i x_i + …` with coefficients over 20 orders of magnitude. Each entry planted
    /// 1% off in turn never passes: it is caught at that entry wherever the right gradient's
    /// entry was resolved to 0.5% or better, and is otherwise inconclusive (an entry 10¹⁵ times
    /// smaller than its neighbour is below what the function's own rounding lets a finite
    /// difference see). The right gradient never fails.
    @Test func mixedMagnitudeEntriesJudgedPerEntry() throws {
        var rng = SeededGenerator(seed: 5)
        var caught = 0
        var resolvable = 0
        for _ in 0..<10 {
            let a = (0..<5).map { _ in
                pow(10, Double.random(in: -10...10, using: &rng)) * (Bool.random(using: &rng) ? 1 : -1)
            }
            let x = (0..<5).map { _ in Double.random(in: -2...2, using: &rng) }
            let f: ([Double]) -> Double = { x in zip(a, x).reduce(0) { $0 + $1.0 * $1.1 } + 0.1 * x[0] * x[0] * a[0] }
            var g = a
            g[0] += 0.2 * x[0] * a[0]
            let right = try GradientChecker().checkGradient(of: f, at: x, gradient: g)
            #expect(!right.failed, "a = \(a): \(right)")
            for j in 0..<5 {
                var w = g
                w[j] *= 1.01
                let r = try GradientChecker().checkGradient(of: f, at: x, gradient: w)
                let e = r.entries[j]
                #expect(e.verdict != .pass, "a = \(a), entry \(j): \(r)")
                if right.entries[j].verdict == .pass && right.entries[j].detectableRelativeError < 5e-3 {
                    resolvable += 1
                    if e.verdict == .mismatch { caught += 1 }
                }
            }
        }
        #expect(caught == resolvable && resolvable >= 25, "caught \(caught) of \(resolvable) resolvable plants")
    }

    // MARK: 4. The step stays in the domain

    @Test func logLikelihoodNearZeroAndExpNearOverflowPass() throws {
        let ll: ([Double]) -> Double = { x in x.reduce(0) { $0 + 1.5 * log($1) - $1 } }
        let x: [Double] = [0.05, 3, 5]
        expectPasses(try GradientChecker().checkGradient(of: ll, at: x, gradient: x.map { 1.5 / $0 - 1 }))
        expectPasses(
            try GradientChecker().checkGradient(of: { (x: [Double]) in exp(x[0]) }, at: [700], gradient: [exp(700)]))
        expectPasses(
            try GradientChecker().checkGradient(of: { (x: [Float]) in exp(x[0]) }, at: [80], gradient: [exp(Float(80))])
        )
        #expect(
            try GradientChecker().checkGradient(
                of: { (x: [Double]) in exp(x[0]) }, at: [700], gradient: [exp(700) * 1.001]
            ).failed)
    }

    /// Generated: `log` and `sqrt` at points close to 0 among large entries, and `exp` near the
    /// overflow threshold, in both precisions: right gradients pass, 1% errors fail.
    @Test func domainEdgesGenerated() throws {
        var rng = SeededGenerator(seed: 9)
        for _ in 0..<20 {
            let near = pow(10, Double.random(in: -6 ... -1, using: &rng))
            let far = Double.random(in: 1...100, using: &rng)
            let x = [near, far]
            let f: ([Double]) -> Double = { x in log(x[0]) + x[1].squareRoot() + sqrt(x[0]) }
            let g = [1 / near + 0.5 / near.squareRoot(), 0.5 / far.squareRoot()]
            expectPasses(try GradientChecker().checkGradient(of: f, at: x, gradient: g), "x = \(x)")
            #expect(
                try GradientChecker().checkGradient(of: f, at: x, gradient: [g[0] * 1.01, g[1]]).failed, "x = \(x)")
            let top = Double.random(in: 690...709, using: &rng)
            expectPasses(
                try GradientChecker().checkGradient(
                    of: { (x: [Double]) in exp(x[0]) }, at: [top], gradient: [exp(top)]), "exp at \(top)")
            let topF = Float.random(in: 70...88, using: &rng)
            expectPasses(
                try GradientChecker().checkGradient(
                    of: { (x: [Float]) in exp(x[0]) }, at: [topF], gradient: [exp(topF)]), "exp at \(topF)")
        }
    }

    /// Outside the domain in every direction: inconclusive, never pass.
    @Test func undefinedEverywhereNearIsInconclusive() throws {
        let f: ([Double]) throws -> Double = { x in
            guard x[0] == 1 else { throw GradientCheckError.invalidOption(name: "x", requirement: "exactly 1") }
            return 2
        }
        let r = try GradientChecker().checkGradient(of: f, at: [1], gradient: [0])
        #expect(r.outcome == .inconclusive && r.entries[0].reason == .undefinedNearby, "\(r)")
    }

    // MARK: 5. The Taylor test has power

    @Test func taylorTestCatchesOneThousandth() throws {
        let f: ([Double]) -> Double = { x in x[0] * x[0] * x[1] + sin(x[2]) * exp(x[0]) }
        let x: [Double] = [0.7, -1.3, 2.1]
        let g = [2 * x[0] * x[1] + sin(x[2]) * exp(x[0]), x[0] * x[0], cos(x[2]) * exp(x[0])]
        let right = try TaylorTest().run(of: f, at: x, gradient: g)
        #expect(right.verdict == .consistent, "\(right)")
        var wrong = g
        wrong[2] *= 1.001
        let w = try TaylorTest().run(of: f, at: x, gradient: wrong)
        #expect(w.verdict == .inconsistent, "\(w)")
        #expect(right.detectableRelativeError < 1e-8)
    }

    /// Generated: random quadratic-plus-trigonometric functions; a 1e-4 relative error in one
    /// entry of the gradient (large enough to move ⟨∇f, v⟩ by 1e-6) is inconsistent.
    @Test func taylorTestPowerGenerated() throws {
        var rng = SeededGenerator(seed: 3)
        for k in 0..<30 {
            let a = (0..<4).map { _ in Double.random(in: -2...2, using: &rng) }
            let x = (0..<4).map { _ in Double.random(in: -2...2, using: &rng) }
            let f: ([Double]) -> Double = { x in
                var s = 0.0
                for i in 0..<4 {
                    let b: Double = a[(i + 1) % 4]
                    s += a[i] * x[i] * x[i] + sin(x[i] * b)
                }
                return s
            }
            var g: [Double] = []
            for i in 0..<4 {
                let b: Double = a[(i + 1) % 4]
                g.append(2 * a[i] * x[i] + b * cos(x[i] * b))
            }
            var t = TaylorTest()
            t.seed = UInt64(k)
            let right = try t.run(of: f, at: x, gradient: g)
            #expect(right.verdict == .consistent, "seed \(k): \(right)")
            let slope = right.claimedSlope
            let j = k % 4
            let bump: Double = max(abs(g[j]) * 1e-4, 1e-6 * abs(slope) + 1e-9)
            var wrong = g
            wrong[j] += bump
            let w = try t.run(of: f, at: x, gradient: wrong)
            #expect(w.verdict == .inconsistent, "seed \(k): \(w)")
        }
    }

    // MARK: 6. Where finite differences cannot work: inconclusive, not mismatch

    @Test func impossiblePointsAreInconclusive() throws {
        let c = GradientChecker()
        let sin22 = try c.checkGradient(of: { (x: [Double]) in sin(x[0]) }, at: [1e22], gradient: [cos(1e22)])
        #expect(sin22.outcome == .inconclusive, "\(sin22)")
        let halfPi = Double.pi / 2
        let t = try c.checkGradient(
            of: { (x: [Double]) in tan(x[0]) }, at: [halfPi], gradient: [1 / (cos(halfPi) * cos(halfPi))])
        #expect(t.outcome == .inconclusive, "\(t)")
        let tiny = Double.leastNonzeroMagnitude
        let sq = try c.checkGradient(of: { (x: [Double]) in x[0] * x[0] }, at: [tiny], gradient: [2 * tiny])
        #expect(!sq.failed, "\(sq)")
        let s = try c.checkGradient(of: { (x: [Double]) in sin(x[0]) }, at: [tiny], gradient: [1])
        #expect(!s.failed, "\(s)")
    }

    @Test func mixedScaleInputs() throws {
        let c = GradientChecker()
        let x: [Double] = [1e-8, 1e8]
        let f: ([Double]) -> Double = { x in sin(1e8 * x[0]) + x[0] * x[1] + log(x[1]) }
        let g = [1e8 * cos(1e8 * x[0]) + x[1], x[0] + 1 / x[1]]
        let r = try c.checkGradient(of: f, at: x, gradient: g)
        #expect(!r.failed, "\(r)")
        let p = try c.checkGradient(of: { (x: [Double]) in x[0] * x[1] }, at: x, gradient: [x[1], x[0]])
        #expect(p.passed, "\(p)")
    }

    /// Generated: right gradients of smooth functions at points across the exponent range,
    /// including subnormal and huge inputs, never fail (they pass or are inconclusive).
    @Test func noFalseAlarmsAcrossTheRange() throws {
        var rng = SeededGenerator(seed: 17)
        let fs: [(String, (Double) -> Double, (Double) -> Double)] = [
            ("sin", sin, cos), ("x²", { $0 * $0 }, { 2 * $0 }), ("atan", atan, { 1 / (1 + $0 * $0) }),
            ("exp", exp, exp), ("x³", { $0 * $0 * $0 }, { 3 * $0 * $0 }),
        ]
        var failures: [String] = []
        for _ in 0..<60 {
            let e = Double.random(in: -320...300, using: &rng)
            let x = pow(10, e) * (Bool.random(using: &rng) ? 1 : -1)
            for (name, f, d) in fs {
                let fx = f(x)
                let dx = d(x)
                guard fx.isFinite, dx.isFinite else { continue }
                let r = try GradientChecker().checkGradient(of: { (v: [Double]) in f(v[0]) }, at: [x], gradient: [dx])
                if r.failed { failures.append("\(name) at \(x): \(r.summary)") }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }

    /// A function whose values are quantized by its own rounding: a BatchNorm loss over two rows
    /// per channel, `Σ dy·(x − μ)/sqrt(σ² + 1e-8)`, whose terms (~0.8) are 200× its value. Its
    /// exact gradient (mpmath, 60 digits) has entries ±8.352435686e-17 that change the loss by less
    /// than its rounding at any step a difference can take: the finite differences are exactly 0.
    /// The right analytic value must not fail (it did, as a confident mismatch, before the
    /// selector learned to tell quantized values from smooth ones).
    @Test func quantizedLossDoesNotFailARightGradient() throws {
        let x = [
            842.4651241602392, 215.4449612748467, -302.2329473411592, 589.1248651461607, -374.5881734069513,
            288.8086373100191,
        ]
        let dy = [
            0.29925225625721963, -0.3409717657292151, 0.8111500335488597, -0.09242306556679374, 0.08795421440611878,
            0.852569174101631,
        ]
        let f: ([Double]) -> Double = { x in
            var l = 0.0
            for c in 0..<3 {
                let a = x[c]
                let b = x[3 + c]
                let mu = (a + b) / 2
                let s = (((a - mu) * (a - mu) + (b - mu) * (b - mu)) / 2 + 1e-8).squareRoot()
                l += dy[c] * (a - mu) / s + dy[3 + c] * (b - mu) / s
            }
            return l
        }
        let exact = [
            9.635484776e-16, -8.352435686e-17, -8.024296358e-18, -9.635484776e-16, 8.352435686e-17, 8.024296358e-18,
        ]
        let r = try GradientChecker().checkGradient(of: f, at: x, gradient: exact)
        #expect(!r.failed, "\(r)")
        #expect(r.entries[1].verdict == .inconclusive && r.entries[4].verdict == .inconclusive, "\(r)")
    }

    /// Found by a new-user probe: `(C + x²) − C` is a staircase in floating point (its values
    /// jump by ulp(C) and are exactly flat in between), so at fine steps it looks flat. The right
    /// gradient 2x must not fail: its band now includes the quantum of change seen at larger
    /// steps. Generated over C and x in both precisions; a gross error (×100) still fails where
    /// it would move f by many quanta.
    @Test func quantizedStaircases() throws {
        var failures: [String] = []
        for c in [1.0, 1e4, 1e8, 1e12] {
            for x in [1e-9, 1e-5, 1e-4, 1e-2, 0.1] {
                let r = try GradientChecker().checkGradient(
                    of: { (v: [Double]) in (c + v[0] * v[0]) - c }, at: [x], gradient: [2 * x])
                // C = 1e4, x = 1e-5 was a known false alarm: f(x) spans ~55 quanta of ulp(C), so it is
                // not flat at the first step, while the finer steps see it exactly flat. Differences
                // that are exactly 0 beside non-zero ones now mark the function as quantized there.
                if r.failed { failures.append("Double C=\(c) x=\(x): \(r.summary)") }
            }
        }
        for c: Float in [100, 1e4] {
            for x: Float in [0.01, 0.001] {
                let r = try GradientChecker().checkGradient(
                    of: { (v: [Float]) in (c + v[0] * v[0]) - c }, at: [x], gradient: [2 * x])
                if r.failed { failures.append("Float C=\(c) x=\(x): \(r.summary)") }
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        let gross = try GradientChecker().checkGradient(
            of: { (v: [Double]) in (1e4 + v[0] * v[0]) - 1e4 }, at: [0.5], gradient: [100])
        #expect(gross.failed, "\(gross)")
    }

    /// The same kind in Float, generated: `log(1 + x²)` near 0, where `1 + x²` rounds to a
    /// multiple of ulp(1) = 1.2e-7, so f is a staircase far coarser than `u·|f|` (a right gradient
    /// failed there as a confident mismatch: the differences at the fine steps were exactly 0 and
    /// the noise model saw nothing). Right gradients never fail; a 10% error never passes.
    @Test func floatQuantizedByItsOwnRounding() throws {
        var rng = SeededGenerator(seed: 41)
        var failures: [String] = []
        for _ in 0..<80 {
            let x = Float(pow(10, Double.random(in: -6...0, using: &rng))) * (Bool.random(using: &rng) ? 1 : -1)
            let f: ([Float]) -> Float = { v in logf(1 + v[0] * v[0]) }
            let d = Float(2 * Double(x) / (1 + Double(x) * Double(x)))
            let right = try GradientChecker().checkGradient(of: f, at: [x], gradient: [d])
            if right.failed { failures.append("right at x = \(x) (seed 41): \(right.summary)") }
            let wrong = try GradientChecker().checkGradient(of: f, at: [x], gradient: [d * 1.1])
            if wrong.outcome == .pass { failures.append("10% error passed at x = \(x) (seed 41): \(wrong.summary)") }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        // The pinned example: x = 0.00068731455 was a false alarm (numerical 0, band 7e-9).
        let pinned = try GradientChecker().checkGradient(
            of: { (v: [Float]) in logf(1 + v[0] * v[0]) }, at: [0.00068731455], gradient: [0.0013746284])
        #expect(!pinned.failed, "\(pinned)")
    }

    /// Found by the probe: the Taylor test where f underflows near x, and options that trapped
    /// or widened the verdict without bound.
    @Test func probeFindings() throws {
        let t = try TaylorTest().run(of: { (x: [Double]) in x[0] * x[0] }, at: [1e-300], gradient: [2e-300])
        #expect(t.verdict == .inconclusive, "\(t)")
        #expect(throws: GradientCheckError.self) {
            _ = try GradientChecker().checkGradient(
                of: { (x: [Double]) in exp(x[0]) }, at: [1.0], gradient: [2], termMagnitudes: [-1e20])
        }
        #expect(throws: GradientCheckError.self) {
            _ = try GradientChecker().adjointTest(
                inputs: 1 << 40, outputs: 1, trials: 1, jvp: { (v: [Double]) in [v[0]] }, vjp: { $0 })
        }
    }

    // MARK: 7. Options are validated; fast mode is honoured

    /// Columns estimated on several threads give the same entries, verdicts and evaluation count
    /// as one thread, on right and wrong Jacobians of generated sizes (a pure function, so it may
    /// be called concurrently), and an undecidable column stays undecided.
    @Test func concurrentColumnsChangeNothing() throws {
        var rng = SeededGenerator(seed: 77)
        for trial in 0..<12 {
            let n = Int.random(in: 1...9, using: &rng)
            let m = Int.random(in: 1...4, using: &rng)
            let a = (0..<(m * n)).map { _ in Double.random(in: -2...2, using: &rng) }
            let x = (0..<n).map { _ in Double.random(in: -1...1, using: &rng) }
            let g: ([Double]) -> [Double] = { v in
                (0..<m).map { i in (0..<n).reduce(0.0) { $0 + a[i * n + $1] * sin(v[$1]) } }
            }
            var jac = (0..<m).map { i in (0..<n).map { j in a[i * n + j] * cos(x[j]) } }
            if trial % 2 == 1 { jac[m - 1][n - 1] *= 1.01 }
            var one = GradientChecker()
            one.size = .full
            var two = one
            two.concurrentColumns = 3
            let r1 = try one.checkJacobian(of: g, at: x, jacobian: jac)
            let r2 = try two.checkJacobian(of: g, at: x, jacobian: jac)
            #expect(r1.entries == r2.entries, "trial \(trial), seed 77")
            #expect(r1.evaluations == r2.evaluations && r1.outcome == r2.outcome, "trial \(trial), seed 77")
            #expect(r1.outcome == (trial % 2 == 1 ? .fail : .pass), "trial \(trial), seed 77")
        }
        var c = GradientChecker()
        c.concurrentColumns = 2
        c.size = .full
        // Undefined off x₀ = 1 in every direction of column 0: that column is undecided on its thread.
        let r = try c.checkJacobian(
            of: { v -> [Double] in
                guard v[0] == 1 else { throw GradientCheckError.invalidOption(name: "x", requirement: "1") }
                return [v[0], v[1]]
            }, at: [1, 2], jacobian: [[1, 0], [0, 1]])
        #expect(r.outcome == .inconclusive)
        #expect(r.entries.filter { $0.index[1] == 0 }.allSatisfy { $0.reason == .undefinedNearby })
    }

    @Test func invalidOptionsThrow() throws {
        func invalid(_ body: () throws -> Void) -> Bool {
            do {
                try body()
                return false
            } catch let e as GradientCheckError {
                if case .invalidOption = e { return true } else { return false }
            } catch { return false }
        }
        let f: ([Double]) -> Double = { $0[0] * $0[0] }
        var t = TaylorTest()
        t.steps = 0
        #expect(invalid { _ = try t.run(of: f, at: [1], gradient: [2]) })
        #expect(
            invalid {
                _ = try GradientChecker().checkHVP(
                    gradient: { [2 * $0[0]] }, at: [1.0], hvp: { [2 * $0[0]] }, trials: -1)
            })
        for bad in [Double.infinity, .nan, 0, -1] {
            var c = GradientChecker()
            c.safety = bad
            #expect(invalid { _ = try c.checkGradient(of: f, at: [1], gradient: [2]) }, "safety \(bad)")
            var s = GradientChecker()
            s.stepScale = bad
            #expect(invalid { _ = try s.checkGradient(of: f, at: [1], gradient: [2]) }, "stepScale \(bad)")
            var m = GradientChecker()
            m.maxStep = bad
            #expect(invalid { _ = try m.checkGradient(of: f, at: [1], gradient: [2]) }, "maxStep \(bad)")
            var r = GradientChecker()
            r.resolution = bad
            #expect(invalid { _ = try r.checkGradient(of: f, at: [1], gradient: [2]) }, "resolution \(bad)")
            var rr = GradientChecker()
            rr.roundingUnits = bad.isNaN ? bad : -abs(bad) - 1
            #expect(invalid { _ = try rr.checkGradient(of: f, at: [1], gradient: [2]) }, "roundingUnits \(bad)")
        }
        for bad in [0, -1, 65] {
            var cc = GradientChecker()
            cc.concurrentColumns = bad
            #expect(invalid { _ = try cc.checkGradient(of: f, at: [1], gradient: [2]) }, "concurrentColumns \(bad)")
        }
        var z = GradientChecker()
        z.size = .fast(trials: 0)
        #expect(invalid { _ = try z.checkGradient(of: f, at: [1], gradient: [2]) })
        var e = GradientChecker()
        e.estimator.richardsonRatio = 1
        #expect(invalid { _ = try e.checkGradient(of: f, at: [1], gradient: [2]) })
        var h = GradientChecker()
        h.estimator.stepSelector.maxHalvings = -3
        #expect(invalid { _ = try h.checkGradient(of: f, at: [1], gradient: [2]) })
        #expect(
            invalid {
                _ = try GradientChecker().adjointTest(
                    inputs: 1, outputs: 1, trials: -1, jvp: { (v: [Double]) in v }, vjp: { $0 })
            })
    }

    @Test func outputLengthChangingBetweenCallsThrows() {
        final class Counter: @unchecked Sendable { var n = 0 }
        let k = Counter()
        let g: ([Double]) -> [Double] = { x in
            k.n += 1
            return k.n > 3 ? [x[0]] : [x[0], x[0]]
        }
        #expect { _ = try GradientChecker().checkJacobian(of: g, at: [1.0], jacobian: [[1], [1]]) } throws: { e in
            if case .sizeMismatch = e as? GradientCheckError { return true } else { return false }
        }
    }

    /// `size` applies to gradients and Jacobians; a failed projection names the input entry.
    @Test func fastModeHonouredAndLocatesTheEntry() throws {
        let n = 300
        let x = (0..<n).map { 0.01 * Double($0 + 1) }
        let f: ([Double]) -> Double = { x in x.indices.reduce(0) { $0 + sin(x[$1]) * Double($1 % 7 + 1) } }
        let g = x.indices.map { cos(x[$0]) * Double($0 % 7 + 1) }
        var fast = GradientChecker()
        fast.size = .fast(trials: 3)
        let r = try fast.checkGradient(of: f, at: x, gradient: g)
        #expect(r.passed && r.mode == .fast, "\(r)")
        var full = GradientChecker()
        full.size = .full
        let rf = try full.checkGradient(of: f, at: x, gradient: g)
        #expect(r.evaluations * 20 < rf.evaluations, "fast \(r.evaluations), full \(rf.evaluations)")
        var wrong = g
        wrong[123] *= 1.01
        let w = try fast.checkGradient(of: f, at: x, gradient: wrong)
        #expect(w.failed && w.mismatches.contains { $0.index == [123] }, "\(w)")
        // The default switches to fast mode above 256 inputs.
        #expect(try GradientChecker().checkGradient(of: f, at: x, gradient: g).mode == .fast)
        // Jacobian, fast: the wrong entry's row and column.
        let m = 3
        let jac: ([Double]) -> [Double] = { x in
            (0..<m).map { i in x.indices.reduce(0) { $0 + Double(i + 1) * sin(x[$1]) } }
        }
        var jw = (0..<m).map { i in x.indices.map { Double(i + 1) * cos(x[$0]) } }
        jw[1][200] *= 1.01
        let jr = try fast.checkJacobian(of: jac, at: x, jacobian: jw)
        #expect(jr.failed && jr.mismatches.contains { $0.index == [1, 200] }, "\(jr)")
    }

    // MARK: The public primitive and the API

    @Test func derivativePrimitive() throws {
        let e = try DerivativeEstimator().derivative(of: { (x: Double) in sin(x) }, at: 1)
        #expect(abs(e.value[0] - cos(1)) < 1e-14 && e.error[0] < 1e-12 && e.regimeFound)
        let d = try DerivativeEstimator().directionalDerivative(
            of: { (x: [Double]) in [x[0] * x[1], x[1]] }, at: [2, 3], along: [1, 1])
        #expect(abs(d.value[0] - 5) < 1e-12 && abs(d.value[1] - 1) < 1e-12)
        #expect(throws: GradientCheckError.self) {
            _ = try DerivativeEstimator().directionalDerivative(of: { $0 }, at: [1.0], along: [0])
        }
    }

    /// The issue's example: no overload ambiguity for a closure over an array literal.
    @Test func noOverloadAmbiguity() throws {
        let r = try GradientChecker().checkGradient(of: { $0[0] * $0[0] }, at: [1], gradient: [2])
        #expect(r.passed)
    }
}

/// `checkDifferentiable` beyond arrays: SIMD vectors, several arguments, vector-valued functions;
/// each with a right and a wrongly registered derivative.
@Suite("Differentiable programming")
struct DifferentiableCheckTests {
    @Test func simdVectors() throws {
        @differentiable(reverse) func f(_ v: SIMD4<Double>) -> Double { (v * v * v).sum() }
        let r = try GradientChecker().checkDifferentiable(f, at: SIMD4<Double>(0.5, -1, 2, 0.25))
        #expect(r.passed, "\(r)")
        expectDifferentiable(f, at: SIMD4<Double>(1, 2, 3, 4), "SIMD4 cube sum")
    }

    @Test func twoArguments() throws {
        @differentiable(reverse) func f(_ a: Double, _ b: SIMD2<Double>) -> Double {
            a * b.sum() + a * (b * b * b).sum()
        }
        let r = try GradientChecker().checkDifferentiable(f, at: 0.7, SIMD2<Double>(-1.5, 2))
        #expect(r.passed && r.entries.count == 3, "\(r)")
        let w = try GradientChecker().checkDifferentiable(wrongPair, at: 0.7, 1.3)
        #expect(w.failed && w.mismatches.map(\.index) == [[1]], "\(w)")
    }

    @Test func vectorValued() throws {
        @differentiable(reverse) func g(_ x: [Double]) -> [Double] { [x[0] * x[1], x[1] * x[1] * x[1]] }
        let r = try GradientChecker().checkDifferentiable(g, at: [0.4, -1.2])
        #expect(r.passed && r.kind == .vectorJacobianProduct, "\(r)")
        let w = try GradientChecker().checkDifferentiable(wronglyRegisteredVector, at: [0.4, -1.2])
        #expect(w.failed, "\(w)")
    }

    /// A failed fast-mode VJP projection is traced to the input entry responsible.
    @Test func fastVJPLocatesTheInputEntry() throws {
        let n = 64
        let x = (0..<n).map { 0.05 * Double($0 + 1) }
        let g: ([Double]) -> [Double] = { x in [x.reduce(0) { $0 + sin($1) }, x.reduce(0) { $0 + $1 * $1 }] }
        var fast = GradientChecker()
        fast.size = .fast(trials: 2)
        let vjp: ([Double]) -> [Double] = { u in
            x.indices.map { j in u[0] * cos(x[j]) * (j == 40 ? 1.01 : 1) + u[1] * 2 * x[j] }
        }
        let r = try fast.checkVJP(of: g, at: x, vjp: vjp)
        #expect(r.failed && r.mismatches.contains { $0.index.count == 2 && $0.index[1] == 40 }, "\(r)")
    }
}

func pairUnregistered(_ a: Double, _ b: Double) -> Double { a * b * b }
@derivative(of: pairUnregistered)
func pairDerivative(_ a: Double, _ b: Double) -> (value: Double, pullback: (Double) -> (Double, Double)) {
    (a * b * b, { ($0 * b * b, $0 * a * b) })  // ∂/∂b should be 2ab
}
@differentiable(reverse) func wrongPair(_ a: Double, _ b: Double) -> Double { pairUnregistered(a, b) }

func squaresUnregistered(_ x: [Double]) -> [Double] { x.map { $0 * $0 } }
@derivative(of: squaresUnregistered)
func squaresDerivative(_ x: [Double]) -> (value: [Double], pullback: ([Double].TangentVector) -> [Double].TangentVector)
{
    (x.map { $0 * $0 }, { u in [Double].TangentVector(zip(u.base, x).map { $0 * $1 }) })  // should be 2x·u
}
@differentiable(reverse) func wronglyRegisteredVector(_ x: [Double]) -> [Double] { squaresUnregistered(x) }
