import BigInt

/// An exact rational number `numerator / denominator` (denominator > 0, lowest terms), for
/// deciding identities and inequalities over the reals on exactly representable inputs.
///
/// Every finite `Double` or `Float` is a dyadic rational, so converting one loses nothing:
/// a claim checked on `Rational(exactly: x)` is checked on exactly the `x` the floating-point
/// code saw.
public struct Rational: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let numerator: BigInt
    public let denominator: BigInt

    /// `numerator / denominator` in lowest terms.
    /// - Throws: ``RationalError/zeroDenominator``.
    public init(_ numerator: BigInt, _ denominator: BigInt) throws {
        guard denominator != 0 else { throw RationalError.zeroDenominator }
        self.init(unchecked: numerator, denominator)
    }

    /// An integer.
    public init(_ numerator: BigInt) { self.init(unchecked: numerator, 1) }

    init(unchecked numerator: BigInt, _ denominator: BigInt) {
        let g = BigInt(numerator.magnitude.greatestCommonDivisor(with: denominator.magnitude))
        let s: BigInt = denominator < 0 ? -1 : 1
        self.numerator = s * numerator / (g == 0 ? 1 : g)
        self.denominator = s * denominator / (g == 0 ? 1 : g)
    }

    public init(_ n: Int) { self.init(BigInt(n)) }

    /// The exact value of a finite binary floating-point number; `nil` for NaN or infinity.
    public init?<F: BinaryFloatingPoint>(exactly x: F) {
        guard x.isFinite else { return nil }
        if x == 0 {
            self.init(BigInt(0))
            return
        }
        // x = significand · 2^(exponent − significandWidth), significand an integer.
        let sig = BigInt(x.significandBitPattern) | (x.isNormal ? BigInt(1) << Int(F.significandBitCount) : 0)
        let e = Int(x.isNormal ? x.exponent : F.leastNormalMagnitude.exponent) - Int(F.significandBitCount)
        let signed = x.sign == .minus ? -sig : sig
        if e >= 0 { self.init(signed << e) } else { self.init(unchecked: signed, BigInt(1) << (-e)) }
    }

    public static let zero = Rational(BigInt(0))
    public static let one = Rational(BigInt(1))

    public static func + (a: Rational, b: Rational) -> Rational {
        Rational(unchecked: a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)
    }
    public static func - (a: Rational, b: Rational) -> Rational {
        Rational(unchecked: a.numerator * b.denominator - b.numerator * a.denominator, a.denominator * b.denominator)
    }
    public static func * (a: Rational, b: Rational) -> Rational {
        Rational(unchecked: a.numerator * b.numerator, a.denominator * b.denominator)
    }
    /// - Throws: ``RationalError/divisionByZero``.
    public static func / (a: Rational, b: Rational) throws -> Rational {
        guard b.numerator != 0 else { throw RationalError.divisionByZero }
        return Rational(unchecked: a.numerator * b.denominator, a.denominator * b.numerator)
    }
    public static prefix func - (a: Rational) -> Rational { Rational(unchecked: -a.numerator, a.denominator) }
    public static func < (a: Rational, b: Rational) -> Bool {
        a.numerator * b.denominator < b.numerator * a.denominator
    }

    public var sign: Int { numerator.signum() == 0 ? 0 : (numerator < 0 ? -1 : 1) }
    public var magnitude: Rational { numerator < 0 ? -self : self }

    /// `self^n` for `n ≥ 0`.
    /// - Throws: ``RationalError/negativeExponent(_:)``.
    public func power(_ n: Int) throws -> Rational {
        guard n >= 0 else { throw RationalError.negativeExponent(n) }
        return Rational(unchecked: numerator.power(n), denominator.power(n))
    }

    /// The nearest `Double` (to within one rounding of a 64-bit quotient: relative error ≤ 2⁻⁶³ + u).
    public var doubleValue: Double {
        if numerator == 0 { return 0 }
        let nb = numerator.magnitude.bitWidth
        let db = denominator.magnitude.bitWidth
        let shift = 64 - (nb - db)
        let q = shift >= 0 ? (numerator << shift) / denominator : numerator / (denominator << (-shift))
        return Double(q) * pow2(-shift)
    }

    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }

    /// Sum and mean of exact values.
    public static func sum(_ xs: [Rational]) -> Rational { xs.reduce(.zero, +) }
    /// - Throws: ``RationalError/emptyInput`` for no values.
    public static func mean(_ xs: [Rational]) throws -> Rational {
        guard !xs.isEmpty else { throw RationalError.emptyInput }
        return try sum(xs) / Rational(xs.count)
    }

    /// Rationals `lo ≤ r^{1/n} ≤ hi` with `hi − lo = 2^{-bits}·2^{⌈log₂ r^{1/n}⌉}` (relative width
    /// about `2^{-bits}`), for `r > 0`: integer `n`-th roots of `r · 2^{n·k}` by bisection.
    /// - Throws: ``RationalError/rootOfNonPositive`` for `r ≤ 0`, ``RationalError/invalidArgument(_:)``
    ///   for `n < 1` or `bits` outside `1…4096`.
    public func nthRootBracket(_ n: Int, bits: Int = 96) throws -> (lo: Rational, hi: Rational) {
        guard sign > 0 else { throw RationalError.rootOfNonPositive }
        guard n >= 1, n <= 1 << 16 else { throw RationalError.invalidArgument("root degree \(n) must be in 1...65536") }
        guard (1...4096).contains(bits) else { throw RationalError.invalidArgument("bits \(bits) must be in 1...4096") }
        // Choose k so that the root of r·2^{nk} has about `bits` bits.
        let approxLog2 = (numerator.magnitude.bitWidth - denominator.magnitude.bitWidth) / n
        let k = bits - approxLog2
        let scaled: BigInt = k >= 0 ? (numerator << (n * k)) / denominator : numerator / (denominator << (-n * k))
        // Largest integer m with m^n ≤ scaled (floor of the n-th root).
        var lo = BigInt(0)
        var hi = BigInt(1) << ((scaled.magnitude.bitWidth / n) + 2)
        while hi - lo > 1 {
            let mid = (lo + hi) >> 1
            if mid.power(n) <= scaled { lo = mid } else { hi = mid }
        }
        let scale = k >= 0 ? Rational(unchecked: BigInt(1), BigInt(1) << k) : Rational(BigInt(1) << (-k))
        // floor(·) lost less than one unit at the scaled level; hi = lo + 1 bounds from above.
        return (Rational(lo) * scale, Rational(lo + 1) * scale)
    }
}

/// Why an exact operation could not be done (never a trap: every public entry point throws these).
public enum RationalError: Error, Equatable, Sendable, CustomStringConvertible {
    case zeroDenominator
    case divisionByZero
    case negativeExponent(Int)
    case rootOfNonPositive
    case emptyInput
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .zeroDenominator: return "a rational with denominator 0"
        case .divisionByZero: return "division of a rational by 0"
        case .negativeExponent(let n): return "negative exponent \(n) (use the reciprocal)"
        case .rootOfNonPositive: return "an n-th root bracket of a value ≤ 0"
        case .emptyInput: return "the mean of no values"
        case .invalidArgument(let s): return s
        }
    }
}

/// `2^e` as a `Double`, exactly, for every `e` whose power is representable (subnormal powers
/// included): the scaling is split into steps of `2^±1000` so no intermediate leaves the range.
public func pow2(_ e: Int) -> Double {
    var r = 1.0
    var k = e
    while k > 1000 {
        r *= 0x1p1000
        k -= 1000
    }
    while k < -1000 {
        r *= 0x1p-1000
        k += 1000
    }
    return r * Double(sign: .plus, exponent: k, significand: 1)
}
