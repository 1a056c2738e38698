import Foundation
import GradientCheck
import Testing

// `@testable` for the fixed-seed scope (`FixedSeedTrait.fixedRandom`) and the issue counter: the
// library's public API draws every case from the system generator, so a CI failure could not be
// reproduced. SwiftPM compiles dependencies with testing enabled in debug builds (`swift test`).
@testable import PropertyBased

/// Counts body invocations of one property check. Shrinking in swift-property-based is
/// unbounded: on a slow property (a gradient check is tens of milliseconds) with large inputs
/// (arrays of 40–64 draws) it can run for many minutes. Past the budget the body returns at
/// once, which ends the shrinking; the failure is still reported with the input and seed.
final class InvocationBudget: @unchecked Sendable {
    private let limit: Int
    private var used = 0
    init(_ limit: Int) { self.limit = limit }
    func allow() -> Bool {
        used += 1
        return used <= limit
    }
}

/// The base seed of every property check: `UN_PROPERTY_SEED` if set (to explore new cases, or to
/// reproduce a failure printed by a run), else a fixed default, so `swift test` is reproducible.
let propertySeed: UInt64 =
    ProcessInfo.processInfo.environment["UN_PROPERTY_SEED"].flatMap { UInt64($0) }
    ?? 0x5EED_2026

/// `propertyCheck` with fixed seeds and at most `shrinkSteps` shrinking evaluations per failing case.
///
/// Case `k` draws its input from a Xoshiro seeded from `propertySeed`, `k` and the call site's
/// line, run as one fixed-seed property check so that the library's
/// shrinking still applies; a failure adds the seed that reproduces it.
func seededCases(
    count: Int, shrinkSteps: Int, sourceLocation: SourceLocation,
    _ one: (_ budget: InvocationBudget) async -> Void
) async {
    let site = UInt64(sourceLocation.line) &* 0x9E37_79B9_7F4A_7C15
    for k in 0..<count {
        // Four well-mixed words (SplitMix64): Xoshiro's first outputs are simple functions of its
        // state words, so nearly equal states would give nearly equal first cases.
        var mix = SeededGenerator(seed: propertySeed ^ site &+ UInt64(k) &* 0xD1B5_4A32_D192_ED03)
        let rng = Xoshiro(seed: (mix.next(), mix.next(), mix.next(), mix.next()))
        let budget = InvocationBudget(1 + shrinkSteps)
        let found = await countIssues(suppress: false) {
            await FixedSeedTrait.$fixedRandom.withValue((rng, location: sourceLocation)) { await one(budget) }
        }
        if found.errors > 0 {
            Issue.record(
                "property case \(k) of \(count) failed; reproduce with UN_PROPERTY_SEED=\(propertySeed)",
                sourceLocation: sourceLocation)
            return
        }
    }
}

func boundedPropertyCheck<I, R, S: Sequence & SendableMetatype>(
    count: Int, input g: Generator<R, S>, shrinkSteps: Int = 120,
    sourceLocation: SourceLocation = #_sourceLocation, perform body: (R) throws -> Void
) async where S.Element == I {
    await seededCases(count: count, shrinkSteps: shrinkSteps, sourceLocation: sourceLocation) { budget in
        await propertyCheck(
            count: 1, input: g,
            perform: { v in
                guard budget.allow() else { return }
                try body(v)
            }, sourceLocation: sourceLocation)
    }
}

func boundedPropertyCheck<I1, R1, S1: Sequence & SendableMetatype, I2, R2, S2: Sequence & SendableMetatype>(
    count: Int, input g1: Generator<R1, S1>, _ g2: Generator<R2, S2>, shrinkSteps: Int = 120,
    sourceLocation: SourceLocation = #_sourceLocation, perform body: (R1, R2) throws -> Void
) async where S1.Element == I1, S2.Element == I2 {
    await seededCases(count: count, shrinkSteps: shrinkSteps, sourceLocation: sourceLocation) { budget in
        await propertyCheck(
            count: 1, input: g1, g2,
            perform: { a, b in
                guard budget.allow() else { return }
                try body(a, b)
            }, sourceLocation: sourceLocation)
    }
}

func boundedPropertyCheck<
    I1, R1, S1: Sequence & SendableMetatype, I2, R2, S2: Sequence & SendableMetatype, I3, R3,
    S3: Sequence & SendableMetatype
>(
    count: Int, input g1: Generator<R1, S1>, _ g2: Generator<R2, S2>, _ g3: Generator<R3, S3>, shrinkSteps: Int = 120,
    sourceLocation: SourceLocation = #_sourceLocation, perform body: (R1, R2, R3) throws -> Void
) async where S1.Element == I1, S2.Element == I2, S3.Element == I3 {
    await seededCases(count: count, shrinkSteps: shrinkSteps, sourceLocation: sourceLocation) { budget in
        await propertyCheck(
            count: 1, input: g1, g2, g3,
            perform: { a, b, c in
                guard budget.allow() else { return }
                try body(a, b, c)
            }, sourceLocation: sourceLocation)
    }
}
