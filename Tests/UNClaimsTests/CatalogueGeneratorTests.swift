import Testing
import _TestSupport

@testable import UNClaims

/// Every entry of the catalogue through its *own* generator, the one the report runs (before,
/// the report's generators were never run by `swift test`, and the tests' own generators had
/// drifted from them). `ClaimCatalogue.testCases` cases per claim, the seed printed on failure;
/// the report runs `effort ×` as many from its own seed.
@Suite("Catalogue generators")
struct CatalogueGeneratorTests {
    static let entries: [any CatalogueEntry] = {
        do { return try ClaimCatalogue.entries(referencePath: PackagePaths.fixture("scipy/reference.json").path) } catch
        {
            Issue.record("the catalogue could not be loaded: \(error)")
            return ClaimCatalogue.generated
        }
    }()

    /// Every claim of the spec (section 5) is in the catalogue, once, in the spec's order.
    @Test func everyClaimIsCatalogued() {
        let ids = Self.entries.map(\.id)
        let spec = ["K1", "K2", "K3", "K4", "G1", "G2", "G3", "G4", "G5", "F1", "F2", "F3", "S1", "S2", "S3"]
        #expect(ids.filter { spec.contains($0) } == spec)
        #expect(Set(ids).count == ids.count)
    }

    @Test(arguments: entries.map(\.id))
    func everyClaimHoldsOnItsOwnGenerator(id: String) throws {
        let entry = try #require(Self.entries.first { $0.id == id })
        let seed: UInt64 = 0xC47A_1096
        let run = entry.run(cases: ClaimCatalogue.testCases, seed: seed, progress: nil)
        #expect(run.cases >= run.pinnedExamples + 1 || (id == "S3" && run.cases == run.pinnedExamples))
        #expect(run.failures == 0, "\(id), seed \(seed): \(run.counterexample ?? "")")
        // Undecided cases (a gradient check that could not resolve an entry) are allowed at the
        // report's threshold, 1% of the tested cases, rounded up.
        #expect(
            run.status == .holds,
            "\(id), seed \(seed): \(run.undecided) undecided of \(run.testedCases) tested, healthy \(run.healthy)")
    }
}

/// Pinned examples run first, and not-applicable cases are counted apart with a health limit.
@Suite("Claim runs: pinned examples and not-applicable cases")
struct ClaimRunAccountingTests {
    struct Case: Sendable, CustomStringConvertible {
        var v: Int
        var description: String { "\(v)" }
    }

    @Test func pinnedFirstAndNotApplicableCounted() {
        let seen = Recorder()
        let claim = Claim<Case>(
            id: "T", title: "t", statement: "", symbols: "", proof: "", examples: [Case(v: -1), Case(v: -2)],
            generate: { Case(v: Int.random(in: 0..<10, using: &$0)) },
            check: { c in
                seen.add(c.v)
                return c.v % 2 == 1 ? .notApplicable("odd") : ClaimOutcome([ClaimCheck("ok", margin: 1)])
            })
        let run = claim.run(cases: 40, seed: 5)
        #expect(seen.values.prefix(2) == [-1, -2])
        #expect(run.pinnedExamples == 2)
        #expect(run.notApplicable == seen.values.filter { $0 % 2 == 1 }.count)
        #expect(run.failures == 0 && run.undecided == 0)
        #expect(run.holds == (run.notApplicable * 2 <= run.cases))
        let never = Claim<Case>(
            id: "U", title: "u", statement: "", symbols: "", proof: "", generate: { _ in Case(v: 1) },
            check: { _ in .notApplicable("always") })
        let r = never.run(cases: 10, seed: 1)
        #expect(r.notApplicable == 10 && !r.healthy && !r.holds)
    }
}

final class Recorder: @unchecked Sendable {
    private(set) var values: [Int] = []
    func add(_ v: Int) { values.append(v) }
}
