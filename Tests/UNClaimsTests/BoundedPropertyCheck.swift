import PropertyBased
import Testing

/// Counts body invocations of one property check. Shrinking in swift-property-based is
/// unbounded: on a slow property (a gradient check is tens of milliseconds) with large inputs
/// (arrays of 40–64 draws) it can run for many minutes. Past the budget the body returns at
/// once, which ends the shrinking; the failure is still reported with the input and seed.
final class InvocationBudget: @unchecked Sendable {
    private let limit: Int
    private var used = 0
    init(_ limit: Int) { self.limit = limit }
    func allow() -> Bool { used += 1; return used <= limit }
}

/// `propertyCheck` with at most `shrinkSteps` shrinking evaluations after the `count` cases.
func boundedPropertyCheck<I, R, S: Sequence & SendableMetatype>(
    count: Int, input g: Generator<R, S>, shrinkSteps: Int = 120,
    sourceLocation: SourceLocation = #_sourceLocation, perform body: (R) throws -> Void
) async where S.Element == I {
    let budget = InvocationBudget(count + shrinkSteps)
    await propertyCheck(count: count, input: g, perform: { v in
        guard budget.allow() else { return }
        try body(v)
    }, sourceLocation: sourceLocation)
}

func boundedPropertyCheck<I1, R1, S1: Sequence & SendableMetatype, I2, R2, S2: Sequence & SendableMetatype>(
    count: Int, input g1: Generator<R1, S1>, _ g2: Generator<R2, S2>, shrinkSteps: Int = 120,
    sourceLocation: SourceLocation = #_sourceLocation, perform body: (R1, R2) throws -> Void
) async where S1.Element == I1, S2.Element == I2 {
    let budget = InvocationBudget(count + shrinkSteps)
    await propertyCheck(count: count, input: g1, g2, perform: { a, b in
        guard budget.allow() else { return }
        try body(a, b)
    }, sourceLocation: sourceLocation)
}

func boundedPropertyCheck<I1, R1, S1: Sequence & SendableMetatype, I2, R2, S2: Sequence & SendableMetatype, I3, R3, S3: Sequence & SendableMetatype>(
    count: Int, input g1: Generator<R1, S1>, _ g2: Generator<R2, S2>, _ g3: Generator<R3, S3>, shrinkSteps: Int = 120,
    sourceLocation: SourceLocation = #_sourceLocation, perform body: (R1, R2, R3) throws -> Void
) async where S1.Element == I1, S2.Element == I2, S3.Element == I3 {
    let budget = InvocationBudget(count + shrinkSteps)
    await propertyCheck(count: count, input: g1, g2, g3, perform: { a, b, c in
        guard budget.allow() else { return }
        try body(a, b, c)
    }, sourceLocation: sourceLocation)
}
