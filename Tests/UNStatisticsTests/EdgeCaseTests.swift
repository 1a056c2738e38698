import Foundation
import GradientCheck
import Testing
import _TestSupport

@testable import UNStatistics

/// Statistics at the ends of the exponent range and at the edges of their domains, with SciPy's
/// semantics (Tests/Fixtures/scipy/edge_cases.json, made by make_edge_cases.py beside it).
@Suite("Statistics: extreme scale and edges")
struct StatisticsEdgeCaseTests {
    struct Case: Decodable {
        var kind: String
        var inputs: [String: [Double]]?
        var statistic: Double
        var pValue: Double
    }
    struct File: Decodable { var cases: [Case] }
    struct Inputs: Decodable {
        var x: [Double]
        var y: [Double]?
    }

    /// Relative agreement with SciPy: 1e-12 on statistics and p-values (the reference was
    /// computed on exactly or nearly exactly rescaled data; what remains is rounding of a few
    /// dozen operations in each implementation).
    @Test func edgeCasesAgreeWithSciPy() throws {
        let url = PackagePaths.fixture("scipy/edge_cases.json")
        let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let cases = raw["cases"] as! [[String: Any]]
        #expect(cases.count == 26)
        for c in cases {
            let inputs = c["inputs"] as! [String: Any]
            let s = (c["statistic"] as! NSNumber).doubleValue
            let p = (c["pValue"] as! NSNumber).doubleValue
            let kind = c["kind"] as! String
            if let args = (inputs["args"] as? [NSNumber])?.map(\.doubleValue) {
                // 1e-10 relative: both sides evaluate incomplete beta functions at parameters up to
                // 10⁹ (GSL here, Boost/Cephes in SciPy); measured agreement 1.3e-12 or better.
                func close(_ a: Double, _ b: Double) -> Bool { a == b || abs(a - b) <= 1e-10 * abs(b) }
                switch kind {
                case "binom":
                    let r = try HypothesisTests.binomial(successes: Int(args[0]), trials: Int(args[1]), p: args[2])
                    #expect(close(r.pValue, p), "binomial \(args): p \(r.pValue) vs SciPy \(p)")
                case "cp":
                    let ci = try HypothesisTests.clopperPearson(successes: Int(args[0]), trials: Int(args[1]))
                    #expect(close(ci.low, s) && close(ci.high, p), "Clopper–Pearson \(args): \(ci) vs SciPy \(s), \(p)")
                case "beta":
                    let lo = try Distributions.betaQuantile(args[0], a: args[1], b: args[2])
                    let hi = try Distributions.betaUpperQuantile(args[0], a: args[1], b: args[2])
                    #expect(close(lo, s) && close(hi, p), "beta quantiles \(args): \(lo), \(hi) vs SciPy \(s), \(p)")
                case "t2sided":
                    // Against mpmath; the large-ν branch's measured error is ≤ 4e-12 at t ≤ 10.
                    let v = try Distributions.studentTTwoSided(args[0], nu: args[1])
                    #expect(abs(v - p) <= 1e-11 * p, "t two-sided \(args): \(v) vs mpmath \(p)")
                default: Issue.record("unknown kind \(kind)")
                }
                continue
            }
            let x = (inputs["x"] as! [NSNumber]).map(\.doubleValue)
            let y = (inputs["y"] as? [NSNumber])?.map(\.doubleValue)
            let r: TestResult
            switch kind {
            case "t1": r = try HypothesisTests.oneSampleT(x, mu: (inputs["mu"] as! NSNumber).doubleValue)
            case "t2pooled": r = try HypothesisTests.twoSampleT(x, y!, equalVariances: true)
            case "t2welch": r = try HypothesisTests.twoSampleT(x, y!, equalVariances: false)
            default:
                Issue.record("unknown kind \(kind)")
                continue
            }
            #expect(abs(r.statistic - s) <= 1e-12 * abs(s), "\(kind) \(x): t \(r.statistic) vs SciPy \(s)")
            #expect(abs(r.pValue - p) <= 1e-12 * abs(p), "\(kind) \(x): p \(r.pValue) vs SciPy \(p)")
        }
    }

    /// The issue's examples, with their right values.
    @Test func examples() throws {
        let t = try HypothesisTests.oneSampleT([1e308, -1e308, 1e308])
        #expect(abs(t.statistic - 0.5) < 1e-15 && abs(t.pValue - 2.0 / 3) < 1e-14, "\(t)")
        let c = try HypothesisTests.chiSquareVariance([1, 2, 4], sigma2: Double("1e-310")!)
        #expect(c.statistic == .infinity && c.pValue == 0, "\(c)")
        let p = try HypothesisTests.twoSampleT([1, 2, 3], [3, 3, 3], equalVariances: true)
        #expect(abs(p.pValue - 0.15830242337545788) < 1e-14, "\(p)")
        #expect(throws: StatisticsError.self) { _ = try Distributions.betaQuantile(.nan, a: 1, b: 1) }
        #expect(throws: StatisticsError.self) {
            _ = try KolmogorovSmirnov.oneSample(
                [Double](repeating: 0.5, count: KolmogorovSmirnov.exactLimit + 1), cdf: { $0 })
        }
        #expect(throws: StatisticsError.zeroVariance(what: "pooled sample")) {
            _ = try HypothesisTests.twoSampleT([3, 3], [3, 3, 3], equalVariances: true)
        }
    }

    /// Generated: the t, F and Brown–Forsythe statistics and p-values are scale-free; scaling the
    /// data by `2^k` for k across the whole exponent range changes neither (exactly: the scaled
    /// data are computed at the same internal scale), and the chi-square statistic scales as 2^{2k}.
    @Test func scaleFreeAcrossTheExponentRange() throws {
        var rng = SeededGenerator(seed: 31)
        var tried = 0
        for _ in 0..<40 {
            let x = (0..<6).map { _ in rng.normal() + 0.3 }
            let y = (0..<5).map { _ in rng.normal() * 1.5 }
            let t1 = try HypothesisTests.oneSampleT(x)
            let t2 = try HypothesisTests.twoSampleT(x, y, equalVariances: false)
            let f = try HypothesisTests.varianceRatio(x, y)
            let bf = try HypothesisTests.brownForsythe([x, y])
            for k in stride(from: -1060, through: 1015, by: 25) {
                let sx = x.map { scalbn($0, Int32(k)) }
                let sy = y.map { scalbn($0, Int32(k)) }
                guard (sx + sy).allSatisfy({ $0.isFinite && ($0 == 0 || abs($0) >= Double.leastNormalMagnitude) })
                else { continue }
                tried += 1
                let u1 = try HypothesisTests.oneSampleT(sx)
                let u2 = try HypothesisTests.twoSampleT(sx, sy, equalVariances: false)
                let uf = try HypothesisTests.varianceRatio(sx, sy)
                let ubf = try HypothesisTests.brownForsythe([sx, sy])
                #expect(
                    u1 == t1 && u2 == t2 && uf == f && ubf == bf, "scale 2^\(k) changed a scale-free test (seed 31)")
            }
        }
        #expect(tried > 2000)
    }

    /// Generated: every distribution function rejects NaN and out-of-domain parameters with a
    /// typed error, returns at once, and gives the limits at ±∞.
    @Test func distributionsValidateAndNeverHang() throws {
        let bad: [Double] = [.nan, -1, 0, .infinity, -.infinity]
        for v in bad {
            #expect(throws: StatisticsError.self) { _ = try Distributions.studentTP(1, nu: v) }
            #expect(throws: StatisticsError.self) { _ = try Distributions.chiSquareQ(1, nu: v) }
            #expect(throws: StatisticsError.self) { _ = try Distributions.fQ(1, nu1: v, nu2: 3) }
            #expect(throws: StatisticsError.self) { _ = try Distributions.betaQuantile(0.5, a: v, b: 1) }
        }
        for p in [Double.nan, -0.1, 1.1, .infinity] {
            #expect(throws: StatisticsError.self) { _ = try Distributions.betaQuantile(p, a: 2, b: 3) }
            #expect(throws: StatisticsError.self) { _ = try Distributions.betaUpperQuantile(p, a: 2, b: 3) }
        }
        #expect(throws: StatisticsError.self) { _ = try Distributions.normalP(.nan) }
        #expect(try Distributions.studentTQ(.infinity, nu: 3) == 0 && Distributions.chiSquareQ(.infinity, nu: 3) == 0)
        #expect(
            try Distributions.fP(.infinity, nu1: 2, nu2: 3) == 1 && Distributions.studentTTwoSided(1e200, nu: 5) == 0)
    }
}
