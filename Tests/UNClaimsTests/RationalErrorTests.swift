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
}
