import Foundation
import GradientCheck
import Testing

@testable import UNStatistics

/// The second probe campaign's findings in the statistics module (issue 10, kind 3): each example
/// with its right value or typed error, and a generated test per kind. (SciPy values are in
/// edge_cases.json; these are the traps, hangs and silent NaNs.)
@Suite("Statistics: probe campaign (traps, hangs, silent NaN)")
struct StatisticsProbeCampaignTests {
    /// Were traps: integer overflow on `ddof`, NaN converted to Int, empty ranges.
    @Test func trapsAreTypedErrors() {
        #expect(throws: StatisticsError.self) {
            _ = try HypothesisTests.chiSquareGoodnessOfFit(observed: [1, 2], expected: [1, 2], ddof: .max)
        }
        #expect(throws: StatisticsError.self) {
            _ = try HypothesisTests.chiSquareGoodnessOfFit(observed: [1, 2], expected: [1, 2], ddof: .min)
        }
        #expect(throws: StatisticsError.self) { _ = try KolmogorovSmirnov.exactSF(n: 5, d: .nan) }
        #expect(throws: StatisticsError.self) { _ = try KolmogorovSmirnov.smirnovSF(n: 5, d: .nan) }
        #expect(throws: StatisticsError.self) { _ = try KolmogorovSmirnov.durbinCDF(n: 0, d: 0.5) }
        #expect(throws: StatisticsError.self) { _ = try KolmogorovSmirnov.asymptoticSF(n: 0, d: 0.5) }
        #expect(throws: StatisticsError.self) { _ = try RandomSource(seed: 1).gaussians(-1) }
    }

    /// Were hangs: one GSL call per binomial outcome, GSL's beta inverse at a = b = 10⁶, an exact
    /// KS of `Int.max` points, an exact two-sample KS of 10¹⁰ lattice points. Each now answers at once.
    @Test func hangsAnswerAtOnce() throws {
        let start = Date()
        #expect(try HypothesisTests.binomial(successes: 1_000_000_000, trials: 2_000_000_000, p: 0.5).pValue == 1)
        #expect(try Distributions.betaQuantile(0.5, a: 1e6, b: 1e6) == 0.5)
        #expect(try Distributions.betaQuantile(0.5, a: 1e300, b: 1e300) >= 0)
        let ci = try HypothesisTests.clopperPearson(successes: 1_000_000, trials: 2_000_000)
        #expect(abs(ci.low - 0.49930679850736825) < 1e-11 && abs(ci.high - 0.5006932014926317) < 1e-11, "\(ci)")
        #expect(throws: StatisticsError.self) { _ = try KolmogorovSmirnov.exactSF(n: .max, d: 0.1) }
        let big = [Double](repeating: 0, count: 100_001)
        #expect(throws: StatisticsError.self) { _ = try KolmogorovSmirnov.twoSample(big, big) }
        #expect(Date().timeIntervalSince(start) < 30, "took \(Date().timeIntervalSince(start)) s")
    }

    /// Were silent NaN or wrong values: the samplers' bad parameters, `F` at huge degrees of
    /// freedom, Student's t at huge ν (p = 1 at ν = 10²⁰), ln Γ(NaN).
    @Test func silentNaNsAreTypedErrorsOrRight() throws {
        let r = RandomSource(seed: 3)
        #expect(throws: StatisticsError.self) { _ = try r.studentT(nu: -1) }
        #expect(throws: StatisticsError.self) { _ = try r.studentT(nu: 0) }
        #expect(throws: StatisticsError.self) { _ = try r.studentT(nu: .nan) }
        #expect(throws: StatisticsError.self) { _ = try r.gaussians(3, sigma: .nan) }
        #expect(throws: StatisticsError.self) { _ = try r.lognormal(zeta: 0, sigma: .nan) }
        #expect(throws: StatisticsError.self) { _ = try r.pareto(a: -1, b: 1) }
        #expect(throws: StatisticsError.self) { _ = try Distributions.logGamma(.nan) }
        // F at 10³⁰⁰ degrees of freedom: GSL returns NaN; that is now a typed error, not a value.
        do {
            let v = try Distributions.fP(1, nu1: 1e300, nu2: 1e300)
            #expect(v.isFinite && v >= 0 && v <= 1, "\(v)")
        } catch let e as StatisticsError { _ = e }
        // SciPy: 0.0026997960632601896 for every ν ≥ 10²⁰ (the normal limit).
        for nu in [1e20, 1e100, 1e300] {
            let v = try Distributions.studentTTwoSided(3, nu: nu)
            #expect(abs(v - 0.0026997960632601896) < 1e-15, "ν = \(nu): \(v)")
        }
    }

    /// Generated: the binomial test against the definition (the sum of every outcome's probability
    /// no more likely than the observed one, with SciPy's 1e-7 tolerance), 300 cases with n ≤ 300.
    @Test func binomialMatchesItsDefinition() throws {
        var rng = SeededGenerator(seed: 0xB1)
        for _ in 0..<300 {
            let n = Int.random(in: 1...300, using: &rng)
            let k = Int.random(in: 0...n, using: &rng)
            let p = [0.0, 1.0, 0.5, Double.random(in: 0...1, using: &rng)][Int.random(in: 0..<4, using: &rng)]
            let pk = try Distributions.binomialPMF(k, n: n, p: p)
            var total = 0.0
            for i in 0...n {
                let q = try Distributions.binomialPMF(i, n: n, p: p)
                if q <= pk * (1 + 1e-7) { total += q }
            }
            let got = try HypothesisTests.binomial(successes: k, trials: n, p: p).pValue
            // The two sum the same probabilities in different orders and groupings (tail
            // functions vs single terms): a few hundred roundings of terms ≤ 1, relative 1e-12.
            #expect(abs(got - min(1, total)) <= 1e-12 * max(min(1, total), 1e-300) + 1e-300, "k \(k), n \(n), p \(p)")
        }
    }

    /// Generated: each beta quantile is the smallest double where the CDF reaches p (so the
    /// CDF at the previous double is below it), over a, b from 10⁻² to 10⁵·⁵; 200 cases. Above,
    /// up to 10⁷, a value or a typed error: GSL's incomplete beta returns NaN near the bulk once
    /// both a and b exceed about 7·10⁵ (measured with GSL directly: 31 of 20,000 random points
    /// within 3 standard deviations of the mean, the smallest such min(a, b) 7.3·10⁵).
    @Test func betaQuantileIsTheCrossing() throws {
        var rng = SeededGenerator(seed: 0xBE7A)
        for k in 0..<300 {
            let top = k < 200 ? 5.5 : 7
            let a = Double.pow(10, Double.random(in: -2...top, using: &rng))
            let b = Double.pow(10, Double.random(in: -2...top, using: &rng))
            let p = Double.pow(10, -Double.random(in: 0...12, using: &rng))
            let q: Double
            do { q = try Distributions.betaQuantile(p, a: a, b: b) } catch let e as StatisticsError {
                #expect(k >= 200 && min(a, b) > 1e5, "a \(a), b \(b), p \(p): \(e)")
                continue
            }
            #expect(q >= 0 && q <= 1)
            if q > 0 {
                let cdfAt = try Distributions.betaCDFForTesting(q, a: a, b: b)
                let cdfBefore = try Distributions.betaCDFForTesting(q.nextDown, a: a, b: b)
                #expect(cdfAt >= p && cdfBefore < p, "a \(a), b \(b), p \(p): q \(q)")
            }
        }
    }

    /// Generated: every distribution function at parameters across the whole range (NaN, ±∞,
    /// subnormal, 10³⁰⁰, negative) gives a probability in [0, 1] or a `StatisticsError`/`GSLError`,
    /// never NaN and never a hang; 2,000 cases.
    @Test func distributionFunctionsNeverReturnNaN() {
        var rng = SeededGenerator(seed: 0xD157)
        let edges: [Double] = [
            .nan, .infinity, -.infinity, 0, -1, .leastNonzeroMagnitude, 1e-300, 1e-10, 0.5, 1, 3, 1e10, 1e300,
        ]
        func draw() -> Double {
            Bool.random(using: &rng)
                ? edges.randomElement(using: &rng)!
                : Double.pow(10, Double.random(in: -300...300, using: &rng)) * (Bool.random(using: &rng) ? 1 : -1)
        }
        for _ in 0..<2000 {
            let (x, a, b) = (draw(), draw(), draw())
            let calls: [() throws -> Double] = [
                { try Distributions.normalP(x) }, { try Distributions.studentTQ(x, nu: a) },
                { try Distributions.chiSquareQ(x, nu: a) }, { try Distributions.fQ(x, nu1: a, nu2: b) },
                { try Distributions.studentTTwoSided(x, nu: a) },
                { try Distributions.betaQuantile(min(max(abs(x), 0), 1), a: a, b: b) },
                { try KolmogorovSmirnov.asymptoticSF(n: a.isFinite ? Int(min(abs(a), 1e6)) + 1 : 1, d: x) },
            ]
            for (i, f) in calls.enumerated() {
                do {
                    let v = try f()
                    #expect(v >= 0 && v <= 1, "call \(i) at x \(x), a \(a), b \(b): \(v)")
                } catch {
                    #expect(error is StatisticsError || error is GSLError, "call \(i): \(error)")
                }
            }
        }
    }
}
