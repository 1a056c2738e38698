import GradientCheck
import RealModule

/// The source of randomness every claim's generator draws from: a stream of 64-bit words.
///
/// The report runs a claim on the words of a ``SeededGenerator`` (reproducible from the printed
/// seed). A property test runs the *same* generator on words it chose itself, given as `script`:
/// shrinking the words (towards 0, fewer non-zero) shrinks the input, because the standard
/// library's `Int.random(in:)`, `Double.random(in:)` and `Bool.random()` map smaller words to values
/// nearer the lower end of their range. This is Hypothesis's design (shrinking the choice sequence,
/// not the value), so each claim has exactly one generator and a shrunk counterexample is always an
/// input the generator can produce. Past the end of `script` the words come from `SeededGenerator(seed:
/// fallbackSeed)`, so a generator that draws more than was scripted still terminates (rejection
/// sampling never sees an endless run of rejected words).
public struct ClaimRandom: RandomNumberGenerator, Sendable {
    private var fallback: SeededGenerator
    private let script: [UInt64]
    private var position = 0

    /// The words of `SeededGenerator(seed: seed)`, exactly.
    public init(seed: UInt64) {
        fallback = SeededGenerator(seed: seed)
        script = []
    }

    /// The words of `script`, then those of `SeededGenerator(seed: fallbackSeed)`.
    public init(script: [UInt64], fallbackSeed: UInt64 = 0) {
        fallback = SeededGenerator(seed: fallbackSeed)
        self.script = script
    }

    /// How many words have been drawn.
    public var wordsDrawn: Int { position }

    public mutating func next() -> UInt64 {
        defer { position += 1 }
        return position < script.count ? script[position] : fallback.next()
    }

    /// A standard normal deviate (Box–Muller, as ``SeededGenerator/normal()``, so a claim drawing
    /// from `ClaimRandom(seed: s)` sees the values a `SeededGenerator(seed: s)` would give).
    public mutating func normal() -> Double {
        let u1 = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &self)
        let u2 = Double.random(in: 0..<1, using: &self)
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * .pi * u2)
    }
}
