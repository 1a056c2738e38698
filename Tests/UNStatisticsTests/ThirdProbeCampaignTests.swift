import Foundation
import Testing

@testable import UNStatistics

/// The third probe campaign's findings in the statistics (issue 10): each example with its right
/// value (mpmath, SciPy 1.x, or by hand, as each comment says) or typed error, and a generated test
/// per kind (binomial probabilities against exact rational sums; far t tails against their
/// leading term, which is exact to below 1e-20 relative there).
@Suite("Statistics: third probe campaign (binomial accuracy, far tails, limits)")
struct ThirdStatisticsProbeTests {
    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / abs(b) }

    /// Were 9e-6 and 1e-5 off (GSL's log-gamma form at n = 2³²−1). Right values: mpmath at 40 digits,
    /// `binomial(n, k)·2⁻ⁿ` and the lower tail summed by the term recurrence until below 1e-30 of the sum
    /// (SciPy agrees to 2e-11). Tolerance: Loader's form is a few ulps; the tail's recurrence
    /// accumulates about 2u per term over the ~1/(1−r) ≈ 1,800 terms that carry the sum (r the
    /// neighbouring-term ratio at k), so ≈ 8e-13; 1e-11 keeps a factor 12.
    @Test func binomialAtTheLargestN() throws {
        let n = 4_294_967_295
        #expect(
            Self.relative(try Distributions.binomialPMF(2_147_483_647, n: n, p: 0.5), 1.2174752208807714e-5) < 1e-13)
        let p1 = try HypothesisTests.binomial(successes: 2_147_183_647, trials: n, p: 0.5).pValue
        #expect(Self.relative(p1, 5.4220311889872821e-20) < 1e-11, "\(p1)")
        let p2 = try HypothesisTests.binomial(successes: 2_147_083_647, trials: n, p: 0.5).pValue
        #expect(Self.relative(p2, 2.8510330968496612e-34) < 1e-11, "\(p2)")
        // Near the bulk at n ≈ 2e6 it threw (GSL's incomplete beta limit); SciPy's binomtest gives 1.0,
        // the exact value (the two tails P(X ≤ 10⁶) + P(X > 10⁶)). Each tail is summed over the ≈ 3σ ≈
        // 2,100 terms that carry it at 2u each: 1e-11 bounds the difference from 1.
        let bulk = try HypothesisTests.binomial(successes: 1_000_000, trials: 2_000_001, p: 0.5).pValue
        #expect(abs(bulk - 1) <= 1e-11, "\(bulk)")
    }

    /// Generated (the kind): the PMF, CDF and SF against exact rational values (BigInt-free: integer
    /// binomials of n ≤ 60 are exact in Double up to 2⁵³, and p = j/16 keeps every power exact), for
    /// 400 random (n, k, p). Tolerance: the exact value rounded once, compared with a result that is
    /// a few ulps (Loader) times at most 60 recurrence steps of 2u: 1e-13 relative, or 1e-300 absolute.
    @Test func binomialAgainstExactValues() throws {
        var rng = Xorshift(seed: 0xB1_0A)
        for _ in 0..<400 {
            let n = Int(rng.next() % 60) + 1
            let k = Int(rng.next() % UInt64(n + 1))
            let j = Int(rng.next() % 15) + 1
            let p = Double(j) / 16
            // pmf(i) = C(n,i) j^i (16−j)^(n−i) / 16^n, each factor exact in Double (≤ 2^240 products
            // are formed in Double with exact powers of 16; C(n,i) ≤ 1.2e17 is exact below n = 57).
            func exact(_ i: Int) -> Double {
                var c = 1.0
                for m in 0..<i { c = c * Double(n - m) / Double(m + 1) }
                return c * Double.pow(p, Double(i)) * Double.pow(1 - p, Double(n - i))
            }
            let pmf = try Distributions.binomialPMF(k, n: n, p: p)
            #expect(abs(pmf - exact(k)) <= 1e-12 * exact(k) + 1e-300, "n \(n) k \(k) p \(p): \(pmf) vs \(exact(k))")
            let cdf = (0...k).reduce(0.0) { $0 + exact($1) }
            let sf = k < n ? ((k + 1)...n).reduce(0.0) { $0 + exact($1) } : 0
            let gc = try Distributions.binomialCDF(k, n: n, p: p)
            let gs = try Distributions.binomialSF(k, n: n, p: p)
            #expect(abs(gc - cdf) <= 1e-12 * cdf + 1e-15, "CDF n \(n) k \(k) p \(p): \(gc) vs \(cdf)")
            #expect(abs(gs - sf) <= 1e-12 * sf + 1e-15, "SF n \(n) k \(k) p \(p): \(gs) vs \(sf)")
        }
    }

    /// Were 0 where the tail is representable (t² overflowed, or GSL's tail underflowed). Right values:
    /// mpmath `betainc(ν/2, 1/2, 0, ν/(ν+t²), regularized=True)` at 50 digits.
    @Test func studentTFarTails() throws {
        let cases: [(t: Double, nu: Double, twoSided: Double)] = [
            (1e155, 1, 6.3661977236758133850700416345876863466847e-156),
            (1e200, 0.5, 6.4140195082844581038733981671580109824859e-101),
            (1e160, 1.5, 7.5417048640324926291907529531169967895172e-241),
            (1e11, 1, 6.3661977236758134307551383283097852875974e-12),
        ]
        for c in cases {
            let p = try Distributions.studentTTwoSided(c.t, nu: c.nu)
            #expect(Self.relative(p, c.twoSided) < 1e-12, "t \(c.t), ν \(c.nu): \(p)")
            #expect(Self.relative(try Distributions.studentTP(-c.t, nu: c.nu), c.twoSided / 2) < 1e-12)
            #expect(Self.relative(try Distributions.studentTQ(c.t, nu: c.nu), c.twoSided / 2) < 1e-12)
        }
        // oneSampleT([1, 2], μ = 1e300): t = (1.5 − 1e300)/(0.5/√2)·… ≈ −2.83e300, ν = 1: p = 2/(π|t|).
        let r = try HypothesisTests.oneSampleT([1, 2], mu: 1e300)
        #expect(Self.relative(r.pValue, 2 / (Double.pi * abs(r.statistic))) < 1e-12, "\(r)")
        // Generated: across ν and huge t the one-sided tail equals the leading term x^{ν/2}/(ν B(ν/2, 1/2))
        // (exact to below 1e-20 relative there) computed independently through lgamma.
        for nu in [0.5, 1, 2, 3.5, 10, 100, 1e4] {
            for e in stride(from: 15.0, through: 300, by: 15) {
                let t = Double.pow(10, e)
                let logX = Double.log(nu) - 2 * Double.log(t)
                let logB = lgamma(nu / 2) + lgamma(0.5) - lgamma(nu / 2 + 0.5)
                let want = Double.exp(nu / 2 * logX - Double.log(nu) - logB)
                guard want >= 1e-300 else { continue }
                #expect(Self.relative(try Distributions.studentTQ(t, nu: nu), want) < 1e-11, "ν \(nu), t 1e\(e)")
            }
        }
    }

    /// SciPy's conventions: no spread within groups but some between them is F = ∞, p = 0
    /// (`scipy.stats.levene(..., center='median')`); no spread at all is undecidable.
    @Test func brownForsytheWithoutSpreadWithinGroups() throws {
        for g in [[[1.0, 2], [3, 5]], [[1, 2], [0, 4]]] {
            let r = try HypothesisTests.brownForsythe(g)
            #expect(r.statistic == .infinity && r.pValue == 0, "\(g): \(r)")
        }
        #expect(throws: StatisticsError.self) { try HypothesisTests.brownForsythe([[1, 1], [2, 2]]) }
    }

    /// Was ∞ (d² overflowed): Σ (o − e)²/e = 2·(1e200)²/2e200 = 1e200, p = 0.
    @Test func chiSquareGoodnessOfFitAtLargeCounts() throws {
        let r = try HypothesisTests.chiSquareGoodnessOfFit(observed: [1e200, 3e200], expected: [2e200, 2e200])
        #expect(Self.relative(r.statistic, 1e200) < 1e-15 && r.pValue == 0, "\(r)")
    }

    /// Were a hang (the Durbin matrix of order 4001) and a crash in the allocation: bounded, typed errors.
    /// SciPy: `kstwo.sf(0.05, 10000)` = 3.632631514370292e-22, `kstwo.sf(0.2, 10000)` = 0.
    @Test func sizesAreBounded() throws {
        #expect(throws: StatisticsError.self) { try KolmogorovSmirnov.durbinCDF(n: 10_000, d: 0.2) }
        #expect(Self.relative(try KolmogorovSmirnov.exactSF(n: 10_000, d: 0.05), 3.632631514370292e-22) < 1e-9)
        #expect(try KolmogorovSmirnov.exactSF(n: 10_000, d: 0.2) == 0)
        let source = RandomSource(seed: 1)
        #expect(throws: StatisticsError.self) { try source.gaussians(Int.max) }
        #expect(throws: StatisticsError.self) { try source.gaussians(1 << 40) }
        #expect(try source.gaussians(3).count == 3)
    }

    /// A small seeded generator (xorshift64*), so each case is reproducible from the seed above.
    struct Xorshift {
        var state: UInt64
        init(seed: UInt64) { state = seed | 1 }
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }
}

/// Welch's one-sided test and Schuirmann's TOST against values worked from their definitions with
/// SciPy (`scipy.stats.ttest_ind(..., equal_var=False, alternative=...)`, commands in the comments).
@Suite("Statistics: one-sided Welch and equivalence (TOST)")
struct EquivalenceTests {
    /// x = [0.91, 0.93, 0.90, 0.92, 0.94], y = [0.90, 0.92, 0.91, 0.89, 0.93]:
    /// `ttest_ind(x, y, equal_var=False, alternative='greater')` → t = 1.0, p = 0.17329675354366675 (ν = 8).
    /// TOST margin 0.02: max of `ttest_ind(x + 0.02, y, alternative='greater').pvalue` and
    /// `ttest_ind(x − 0.02, y, alternative='less').pvalue`.
    @Test func againstSciPy() throws {
        let x = [0.91, 0.93, 0.90, 0.92, 0.94]
        let y = [0.90, 0.92, 0.91, 0.89, 0.93]
        let g = try HypothesisTests.welchGreater(x, y)
        #expect(abs(g.statistic - 1) < 1e-12 && abs(g.degreesOfFreedom! - 8) < 1e-12, "\(g)")
        // P(T₈ > 1) = 0.17330...: the t distribution's tail (SciPy t.sf(1, 8) = 0.17329675354366708).
        #expect(abs(g.pValue - 0.17329675354366708) < 1e-12, "\(g)")
        let e = try HypothesisTests.equivalence(x, y, margin: 0.02)
        // The binding side is x − 0.02 against y: t = (0.01 − 0.02)/0.01 = −1, p = P(T₈ < −1) = 0.1733.
        #expect(abs(e.pValue - 0.17329675354366708) < 1e-12, "\(e)")
        #expect(try HypothesisTests.equivalence(x, y, margin: 0.05).pValue < 0.01)
        #expect(throws: StatisticsError.self) { try HypothesisTests.equivalence(x, y, margin: 0) }
    }
}

/// The fourth probe campaign's findings in the statistics (issue 10). Right values: mpmath at 50
/// digits (binomial, Smirnov's sum), SciPy's limits for the t tails, as the comments say.
@Suite("Statistics: fourth probe campaign (binomial near k = n and tiny p, t at huge ν, F limits)")
struct FourthStatisticsProbeTests {
    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / abs(b) }

    /// Were 1.1e-8, 3.2e-9, 1.2e-10 and 3.4e-11 off (ln(1 − x/n) through a rounded x/n; the rounded
    /// mean n·p), and 0 or NaN (x/m beyond the range; n = 0). Tolerance: Loader's form to a few ulps,
    /// except where the result is subnormal (2⁻¹⁰³⁰·10 carries 13 significant digits, 2⁻¹⁰⁷⁴·n ten).
    @Test func binomialEdges() throws {
        let cases: [(k: Int, n: Int, p: Double, want: Double, tol: Double)] = [
            (1_000_000_006, 1_000_000_007, 1 - 1e-9, 0.36787944135538196, 1e-13),
            (999_999_999, 1_000_000_007, 1 - 1e-9, 9.123992530397383e-6, 1e-13),
            (4_294_967_293, 4_294_967_295, 0.9999999999, 0.0600290849719696, 1e-13),
            (643_820_372, 2_147_483_648, 0.3, 2.5343864902355915e-92, 1e-13),
            (1, 10, 0x1p-1030, 10 * 0x1p-1030, 1e-12),  // the probe's 1e-310 as an exact subnormal; 10p(1−p)⁹ = 10p
            (1, 4_294_967_295, .leastNonzeroMagnitude, 4_294_967_295 * .leastNonzeroMagnitude, 1e-10),
            (0, 0, 0.05, 1, 0),
        ]
        for c in cases {
            let v = try Distributions.binomialPMF(c.k, n: c.n, p: c.p)
            #expect(Self.relative(v, c.want) <= c.tol, "k \(c.k) n \(c.n) p \(c.p): \(v)")
        }
        let tiny = Double.leastNonzeroMagnitude
        #expect(Self.relative(try Distributions.binomialSF(0, n: 4_294_967_295, p: tiny), 4_294_967_295 * tiny) < 1e-10)
        // Generated: p close to 1 and to 0 (p = 1 − j/2²⁰ and j/2²⁰, exact), n ≤ 50, against the
        // definition in Double (products of ≤ 100 factors: about 100u, so 1e-12).
        var rng = ThirdStatisticsProbeTests.Xorshift(seed: 0xB1_0B)
        for _ in 0..<300 {
            let n = Int(rng.next() % 50) + 1
            let k = Int(rng.next() % UInt64(n + 1))
            let j = Double(rng.next() % 64 + 1)
            for p in [1 - j / 1_048_576, j / 1_048_576] {
                var c = 1.0
                for m in 0..<k { c = c * Double(n - m) / Double(m + 1) }
                let want = c * Double.pow(p, Double(k)) * Double.pow(1 - p, Double(n - k))
                let v = try Distributions.binomialPMF(k, n: n, p: p)
                #expect(abs(v - want) <= 1e-12 * want + 1e-300, "n \(n) k \(k) p \(p): \(v) vs \(want)")
            }
        }
    }

    /// Were 1.0, 0.5, a NaN error and a GSLError: t tails at huge ν (normal limit 0 here; SciPy t.sf
    /// gives 0), and a tail below the smallest normal (1.4e-349 at t = 40, ν = 1e6) is 0.
    @Test func studentTAtHugeNu() throws {
        #expect(try Distributions.studentTTwoSided(1e155, nu: 1e300) == 0)
        #expect(try Distributions.studentTQ(1e300, nu: 1e306) == 0)
        #expect(try Distributions.studentTP(-1e300, nu: 1e306) == 0)
        #expect(try Distributions.studentTQ(1e50, nu: 1e290) == 0)
        #expect(try Distributions.studentTTwoSided(1e155, nu: 1.7e308) == 0)
        #expect(try Distributions.studentTTwoSided(40, nu: 1e6) == 0)
        // Continuity at the switch to the normal approximation: SciPy t.sf(3, 1e8) = 0.0013498983640187468.
        #expect(Self.relative(try Distributions.studentTQ(3, nu: 1e8), 0.0013498983640187468) < 1e-10)
    }

    /// Were 1e-10 off (log-gamma differences of size n ln n): Smirnov's sum with Loader's binomial
    /// terms; mpmath sum of the same series 2.046639011774627e-9.
    @Test func smirnovAccuracy() throws {
        #expect(Self.relative(try KolmogorovSmirnov.smirnovSF(n: 100_000, d: 0.01), 2.046639011774627e-9) < 1e-12)
    }

    /// Were silently wrong (GSL's incomplete beta at tiny shape parameters: 3.5e-14 where the tail is
    /// 3.5e-298): refused below the measured limit, answered above it.
    @Test func fDegreesBelowTheLimitAreRefused() throws {
        #expect(throws: StatisticsError.self) { try Distributions.fQ(0.5, nu1: 1e-300, nu2: 1) }
        #expect(throws: StatisticsError.self) { try Distributions.fP(0.5, nu1: 1, nu2: 1e-300) }
        // mpmath: 1 − I_{x/(x+1)·…}: P(F > 0.5) at ν₁ = 1e-4, ν₂ = 1 is 0.0005643269413073666.
        #expect(Self.relative(try Distributions.fQ(0.5, nu1: 1e-4, nu2: 1), 0.0005643269413073666) < 1e-11)
    }
}
