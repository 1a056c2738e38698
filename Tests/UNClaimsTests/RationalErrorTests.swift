import BigInt
import ExactArithmetic
import GradientCheck
import Testing

/// Kind 6 of the "every input" issue: public exact-arithmetic entry points throw typed errors
/// instead of trapping (a zero denominator, division by zero, a negative power, an empty mean, the
/// root of a non-positive value), generated over many operands, and stay exact elsewhere.
@Suite("Rational: typed errors, never a trap")
struct RationalErrorTests {
    @Test func everyEdgeThrowsItsError() {
        #expect(throws: RationalError.zeroDenominator) { _ = try Rational(BigInt(3), BigInt(0)) }
        #expect(throws: RationalError.divisionByZero) { _ = try Rational(1) / .zero }
        #expect(throws: RationalError.negativeExponent(-2)) { _ = try Rational(2).power(-2) }
        #expect(throws: RationalError.emptyInput) { _ = try Rational.mean([]) }
        #expect(throws: RationalError.rootOfNonPositive) { _ = try Rational.zero.nthRootBracket(2) }
        #expect(throws: RationalError.rootOfNonPositive) { _ = try Rational(-4).nthRootBracket(2) }
        #expect(throws: RationalError.self) { _ = try Rational(4).nthRootBracket(0) }
        #expect(throws: RationalError.self) { _ = try Rational(4).nthRootBracket(2, bits: -1) }
    }

    /// Generated: 500 operand pairs of exactly representable doubles (seed 12, every sign and a wide
    /// exponent range, zeros included): division throws exactly when the divisor is 0 and is
    /// otherwise exact (`(a / b) · b == a`); every root bracket of a positive value brackets it.
    @Test func generatedOperands() throws {
        var rng = SeededGenerator(seed: 12)
        var failures: [String] = []
        for _ in 0..<500 {
            func draw() -> Double {
                Int.random(in: 0..<8, using: &rng) == 0
                    ? 0
                    : Double(
                        sign: Bool.random(using: &rng) ? .minus : .plus,
                        exponent: Int.random(in: -300...300, using: &rng),
                        significand: Double.random(in: 1..<2, using: &rng))
            }
            let (x, y) = (draw(), draw())
            let a = Rational(exactly: x)!
            let b = Rational(exactly: y)!
            do {
                let q = try a / b
                if y == 0 { failures.append("\(x) / 0 did not throw") }
                if q * b != a { failures.append("(\(x) / \(y)) · \(y) ≠ \(x)") }
            } catch RationalError.divisionByZero {
                if y != 0 { failures.append("\(x) / \(y) threw") }
            }
            if x > 0 {
                let n = Int.random(in: 1...5, using: &rng)
                let (lo, hi) = try a.nthRootBracket(n)
                if !(try lo.power(n) <= a && a <= hi.power(n)) { failures.append("root bracket of \(x), n = \(n)") }
            }
        }
        #expect(failures.isEmpty, "seed 12: \(failures.prefix(5))")
    }

    /// Probe campaign: `pow2` at extreme exponents looped 2⁵³ times; `doubleValue` returned 0 below
    /// 2⁻¹⁰¹⁰ (normal doubles included); an n-th root of degree 65536 and `2^Int.max` never ended.
    @Test func extremeExponentsAndSizes() throws {
        #expect(pow2(.max) == .infinity && pow2(.min) == 0)
        #expect(pow2(-1074) == .leastNonzeroMagnitude && pow2(-1075) == 0 && pow2(1023) == 0x1p1023)
        #expect(pow2(1024) == .infinity)
        // Generated: every exponent of the range against the standard library's exact construction.
        for e in -1100...1100 {
            #expect(pow2(e) == Double(sign: .plus, exponent: e, significand: 1), "2^\(e)")
        }
        #expect(Rational(exactly: Double.leastNormalMagnitude)!.doubleValue == .leastNormalMagnitude)
        #expect(Rational(exactly: 0x1p-1015)!.doubleValue == 0x1p-1015)
        #expect(Rational(exactly: Double.leastNonzeroMagnitude)!.doubleValue == .leastNonzeroMagnitude)
        // Ties to even in the subnormal range: 1.5·2⁻¹⁰⁷⁴ → 2·2⁻¹⁰⁷⁴, 2⁻¹⁰⁷⁵ → 0, 2.5·2⁻¹⁰⁷⁴ → 2·2⁻¹⁰⁷⁴.
        let unit = try Rational(1) / Rational(exactly: 0x1p-537)!.power(2)  // 2^1074
        #expect(try (Rational(3) / (Rational(2) * unit)).doubleValue == 2 * .leastNonzeroMagnitude)
        #expect(try (Rational(1) / (Rational(2) * unit)).doubleValue == 0)
        #expect(try (Rational(5) / (Rational(2) * unit)).doubleValue == 2 * .leastNonzeroMagnitude)
        #expect(try (Rational(-3) / (Rational(2) * unit)).doubleValue == -2 * .leastNonzeroMagnitude)
        #expect(throws: RationalError.self) { _ = try Rational(3).nthRootBracket(65536) }
        #expect(throws: RationalError.self) { _ = try Rational(3).nthRootBracket(1024, bits: 1024) }
        #expect(throws: RationalError.self) { _ = try Rational(2).power(.max) }
        #expect(try Rational(1).power(.max) == Rational(1))
        #expect(try Rational(-1).power(.max) == Rational(-1))
    }

    /// Generated: every double, normal and subnormal, of either sign, round-trips exactly through
    /// `Rational(exactly:)` and `doubleValue`; 4,000 values across the whole exponent range.
    @Test func doubleValueRoundTripsEverywhere() {
        var rng = SeededGenerator(seed: 0xD0B1E)
        for _ in 0..<4000 {
            let bits = rng.next() & ~(UInt64(0x7FF) << 52) | (UInt64.random(in: 0...2046, using: &rng) << 52)
            let x = Double(bitPattern: bits)
            guard x.isFinite, x != 0 else { continue }
            #expect(Rational(exactly: x)!.doubleValue == x, "\(x)")
        }
    }
}
