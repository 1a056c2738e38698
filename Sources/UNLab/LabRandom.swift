import GradientCheck
import RealModule

/// The lab's seeded random numbers (SplitMix64, Steele et al. 2014): initial weights and batch
/// order are a function of the seed alone, on every platform.
/// The words are GradientCheck's `SeededGenerator` (one SplitMix64 in the project).
public struct LabRandom: RandomNumberGenerator, Sendable {
    private var words: SeededGenerator
    public init(seed: UInt64) { words = SeededGenerator(seed: seed) }

    public mutating func next() -> UInt64 { words.next() }

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
