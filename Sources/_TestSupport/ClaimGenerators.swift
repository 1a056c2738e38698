import PropertyBased
import UNClaims

/// The catalogue's generators as swift-property-based generators, so that a property test draws
/// its inputs from the *same* definition the report runs, and still shrinks.
///
/// A case is a list of `words` random 64-bit words; the claim's generator runs on them through
/// ``ClaimRandom`` (past the list, on a fixed seeded stream). The library shrinks the words towards 0,
/// which moves each drawn integer, double and choice towards the low end of its range, and the
/// generator rebuilds the input from the shrunk words (Hypothesis's design: shrink the choices, not
/// the value), so a shrunk counterexample is always an input the generator can produce.
public enum ClaimGen {
    /// Words per case: more than any catalogue generator draws (the largest, a `LayerCase`, draws
    /// about 180), so the fixed stream past them is rarely reached.
    public static let words = 320

    public static func from<Input>(_ generate: @escaping @Sendable (inout ClaimRandom) -> Input)
        -> Generator<Input, some SendableSequenceType>
    {
        Gen.uint64(in: .min ... .max).array(of: words).map { w in
            var r = ClaimRandom(script: w)
            return generate(&r)
        }
    }
}

extension Claim {
    /// This claim's own generator (``Claim/generate``) as a shrinking property-test generator.
    public var gen: Generator<Input, some SendableSequenceType> { ClaimGen.from(generate) }
}
