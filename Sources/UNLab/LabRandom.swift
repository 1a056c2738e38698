import RealModule

/// The lab's seeded random numbers (SplitMix64, Steele et al. 2014): initial weights and batch
/// order are a function of the seed alone, on every platform.
public struct LabRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `[a, b)` (53 random bits).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double {
        a + (b - a) * Double(next() >> 11) * 0x1p-53
    }

    /// A standard normal deviate (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = 1 - uniform(0, 1)  // in (0, 1]: log is finite
        let u2 = uniform(0, 1)
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * .pi * u2)
    }
}
