import Testing

@testable import UNClaims

/// Every entry of the catalogue through its *own* generator, the one the report runs (before,
/// the report's generators were never run by `swift test`, and the tests' own generators had
/// drifted from them). `ClaimCatalogue.testCases` cases per claim, the seed printed on failure;
/// the report runs `effort ×` as many from its own seed.
@Suite("Catalogue generators")
struct CatalogueGeneratorTests {
    @Test(arguments: ClaimCatalogue.all.map(\.id))
    func everyClaimHoldsOnItsOwnGenerator(id: String) {
        let entry = ClaimCatalogue.all.first { $0.id == id }!
        let seed: UInt64 = 0xC47A_1096
        let run = entry.run(cases: ClaimCatalogue.testCases, seed: seed, progress: nil)
        #expect(run.cases == ClaimCatalogue.testCases)
        #expect(run.failures == 0, "\(id), seed \(seed): \(run.counterexample ?? "")")
        // Undecided cases (a gradient check that could not resolve an entry) are allowed at the
        // report's threshold, 1% of the cases, rounded up.
        #expect(run.undecided * 100 <= max(run.cases, 100), "\(id), seed \(seed): \(run.undecided) undecided")
    }
}
