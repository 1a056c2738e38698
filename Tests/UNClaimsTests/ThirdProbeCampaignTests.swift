import BigInt
import ExactArithmetic
import Foundation
import GradientCheck
import Testing
import UNClaims
import UnifiedNormalization

/// The third probe campaign's findings in the exact arithmetic and the claims' public studies
/// (issue 10): each example with its right value (Python's `float` and `fractions.Fraction`, which
/// round correctly) or typed error, and a generated test per kind.
@Suite("Rational rounding and study sizes: third probe campaign")
struct ThirdClaimsProbeTests {
    /// Were truncated: 2⁶⁰ + 129 came back as 2⁶⁰ (Python: float(2**60 + 129) = 1152921504606847232),
    /// 1 + 2⁻⁵³ + 2⁻²⁰⁰ as 1.0 (Python: float(Fraction(2**200 + 2**147 + 1, 2**200)) = 1.0000000000000002).
    @Test func doubleValueRoundsToNearest() throws {
        #expect(Rational(BigInt(1_152_921_504_606_847_105)).doubleValue == 1_152_921_504_606_847_232)
        let n = (BigInt(1) << 200) + (BigInt(1) << 147) + 1
        let r = try Rational(n, BigInt(1) << 200)
        #expect(r.doubleValue == 1.0000000000000002)
        #expect((Rational.zero - r).doubleValue == -1.0000000000000002)
        // A tie rounds to even: 1 + 2⁻⁵³ is 1.0, 1 + 3·2⁻⁵³ is 1 + 2⁻⁵¹.
        #expect(try Rational((BigInt(1) << 53) + 1, BigInt(1) << 53).doubleValue == 1)
        #expect(try Rational((BigInt(1) << 53) + 3, BigInt(1) << 53).doubleValue == 1 + 0x1p-51)
    }

    /// Generated (the kind): against IEEE operations that round correctly themselves: p/q for p, q
    /// below 2⁵³ is Double(p)/Double(q) exactly, scaled by powers of two across the normal range;
    /// integers below 2⁶⁴ are UInt64 → Double conversions. 3,000 cases, seeded.
    @Test func doubleValueAgainstCorrectlyRoundedOperations() throws {
        var rng = SeededGenerator(seed: 0xD0B1E)
        for _ in 0..<1000 {
            let p = Int.random(in: 1..<(1 << 53), using: &rng)
            let q = Int.random(in: 1..<(1 << 53), using: &rng)
            let k = Int.random(in: -900...900, using: &rng)
            let base = Double(p) / Double(q)
            let scaled = k >= 0 ? try Rational(BigInt(p) << k, BigInt(q)) : try Rational(BigInt(p), BigInt(q) << -k)
            #expect(scaled.doubleValue == base * Double(sign: .plus, exponent: k, significand: 1), "\(p)/\(q)·2^\(k)")
            let u = UInt64.random(in: 0...UInt64.max, using: &rng)
            #expect(Rational(BigInt(u)).doubleValue == Double(u), "\(u)")
            let neg = -Int64.random(in: 1...Int64.max, using: &rng)
            #expect(Rational(BigInt(neg)).doubleValue == Double(neg), "\(neg)")
        }
    }

    /// Were traps (`Array(repeating:count: −1)`, an empty step range): typed errors.
    @Test func filtrationStudySizesAreValidated() throws {
        #expect(throws: NormalizationError.self) { try FiltrationStudy.channelScales(channels: -1, spread: 2) }
        #expect(throws: NormalizationError.self) { try FiltrationStudy.channelScales(channels: 4, spread: .nan) }
        #expect(throws: NormalizationError.self) {
            try FiltrationStudy.firingRate(window: 4, tokens: 8, channels: 2, spread: 2, steps: 0, seed: 1)
        }
        #expect(throws: NormalizationError.self) { try FiltrationStudy.run(window: 4, tokens: 8, steps: 0, seed: 1) }
        #expect(throws: NormalizationError.self) { try FiltrationStudy.table(seed: 1, steps: -1) }
        #expect(throws: NormalizationError.self) {
            try FiltrationStudy.run(window: 4, tokens: 1 << 30, channels: 1 << 20, steps: 1, seed: 1)
        }
        #expect(try FiltrationStudy.channelScales(channels: 3, spread: 4) == [0.5, 1, 2])
    }
}
