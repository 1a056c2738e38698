import PropertyBased
import Testing

/// A failing property with a slow body and a large input still ends promptly (the shrink
/// budget), and its failure is still reported.
@Test func failingPropertyEndsWithinTheShrinkBudget() async {
    var n = 0
    let clock = ContinuousClock()
    let t0 = clock.now
    await withKnownIssue {
        await boundedPropertyCheck(count: 5, input: Gen.double(in: 0...1).array(of: 60), shrinkSteps: 30) { v in
            n += 1
            // Fails for almost every input; shrinking would otherwise walk a huge tree.
            #expect(v.reduce(0, +) < 0.001)
        }
    }
    #expect(n <= 5 + 30)
    #expect(clock.now - t0 < .seconds(30))
}

/// Property checks are reproducible: two runs at the same call site draw the same inputs (fixed
/// seeds by default; `UN_PROPERTY_SEED` explores others), and different cases differ.
@Test func propertyInputsAreReproducible() async {
    final class Seen: @unchecked Sendable { var values: [[Double]] = [] }
    func draw() async -> [[Double]] {
        let seen = Seen()
        for _ in 0..<2 {
            await boundedPropertyCheck(count: 6, input: Gen.double(in: 0...1).array(of: 3)) { v in
                seen.values.append(v)
            }
        }
        return seen.values
    }
    let a = await draw()
    let b = await draw()
    #expect(a == b)
    #expect(Set(a.map { $0.description }).count == 6, "\(a)")
}
