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

    /// The largest power ``power(_:)`` forms, in bits of numerator plus denominator: 2²⁴ (2 MB of
    /// digits, seconds of work); beyond it the call would run for minutes or exhaust memory.
    public static let maximumPowerBits = 1 << 24

    /// `self^n` for `n ≥ 0`.
    /// - Throws: ``RationalError/negativeExponent(_:)``; ``RationalError/invalidArgument(_:)`` where
    ///   the result would exceed ``maximumPowerBits``.
    public func power(_ n: Int) throws -> Rational {
        guard n >= 0 else { throw RationalError.negativeExponent(n) }
        // |p|, q ≥ 1: 0^n, (±1)^n and 1/1 stay small whatever n is.
        let bits = max(numerator.magnitude.bitWidth - 1, 0) + max(denominator.magnitude.bitWidth - 1, 0)
        if bits > 0 {
            let (total, overflow) = bits.multipliedReportingOverflow(by: n)
            guard !overflow, total <= Self.maximumPowerBits else {
                throw RationalError.invalidArgument(
                    "power \(n) of a \(bits)-bit rational exceeds \(Self.maximumPowerBits) bits")
            }
        }
        return Rational(unchecked: numerator.power(n), denominator.power(n))
    }

    /// The nearest `Double`, over the whole range. Where the value is normal: one rounding of a
    /// 64-bit truncated quotient (relative error ≤ 2⁻⁶³ + u). Where it is subnormal: the nearest
    /// multiple of 2⁻¹⁰⁷⁴, rounded once in integers (ties to even). Beyond the range: ±∞.
    public var doubleValue: Double {
        if numerator == 0 { return 0 }
        let negative = numerator.signum() < 0
        let n = BigInt(numerator.magnitude)
        let d = BigInt(denominator.magnitude)
        let nb = numerator.magnitude.bitWidth
        let db = denominator.magnitude.bitWidth
        // value ∈ [2^(nb−db−1), 2^(nb−db+1)).
        if nb - db <= -1019 {
            // m = round(value · 2^1074): below 2^53 the result m · 2^−1074 is exact in Double.
            let scaled = n << 1074
            let (q, r) = scaled.quotientAndRemainder(dividingBy: d)
            let twice = r << 1
            let m = twice > d || (twice == d && q % 2 != 0) ? q + 1 : q
            if m < (BigInt(1) << 53) {
                let v = Double(m) * Double.leastNonzeroMagnitude
                return negative ? -v : v
            }
        }
        // Correctly rounded (to nearest, ties to even): q = ⌊value·2^shift⌋ has 65 or 66 bits; it is
        // rounded to 53 by hand with the remainder as the sticky bit. (Truncating division and
        // Double(BigInt), which truncates, returned 2⁶⁰ for 2⁶⁰ + 129 and 1.0 for 1 + 2⁻⁵³ + 2⁻²⁰⁰.)
        let shift = 65 - (nb - db)
        let (q, r) =
            shift >= 0
            ? (n << shift).quotientAndRemainder(dividingBy: d) : n.quotientAndRemainder(dividingBy: d << (-shift))
        let drop = q.magnitude.bitWidth - 53  // 12 or 13
        let low = q & ((BigInt(1) << drop) - 1)
        let halfway = BigInt(1) << (drop - 1)
        var mantissa = q >> drop
        if low > halfway || (low == halfway && (r != 0 || mantissa % 2 != 0)) { mantissa += 1 }
        // mantissa ≤ 2^53 is exact in Double; two exact power-of-two scalings (∞ only beyond the range).
        let e = drop - shift
        let half = e / 2
        let v = Double(mantissa) * pow2(half) * pow2(e - half)
        return negative ? -v : v
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
    ///   for `n < 1`, `bits` outside `1…4096`, or `n · bits > 32768` (the work grows like `n²·bits³`).
    public func nthRootBracket(_ n: Int, bits: Int = 96) throws -> (lo: Rational, hi: Rational) {
        guard sign > 0 else { throw RationalError.rootOfNonPositive }
        guard n >= 1, n <= 1 << 16 else { throw RationalError.invalidArgument("root degree \(n) must be in 1...65536") }
        guard (1...4096).contains(bits) else { throw RationalError.invalidArgument("bits \(bits) must be in 1...4096") }
        // Each bisection step raises a (bits + log₂ r/n)-bit integer to the n-th power: the cost grows
        // like n² · bits³, so the product is bounded (n = 8 at 4096 bits, n = 256 at 128 bits).
        guard n * bits <= 1 << 15 else {
            throw RationalError.invalidArgument("root degree \(n) × bits \(bits) must be at most 32768")
        }
        guard abs(numerator.magnitude.bitWidth - denominator.magnitude.bitWidth) <= 1 << 20 else {
            throw RationalError.invalidArgument("an n-th root bracket of a rational over 2^(±2^20)")
        }
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
    // Beyond the range the answer is known (and the loops below would take up to 2^53 steps).
    if e > Double.greatestFiniteMagnitude.exponent { return .infinity }
    if e < Double.leastNonzeroMagnitude.exponent { return 0 }
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
