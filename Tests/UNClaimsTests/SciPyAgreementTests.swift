import Foundation
import Testing
import _TestSupport

@testable import UNClaims

/// Claim S3: every statistical routine against SciPy's values for the same inputs
/// (Tests/Fixtures/scipy/reference.json, produced by make_scipy_reference.py beside it), through the
/// catalogue's own definition (the report runs the same one).
@Suite("Statistics agree with SciPy")
struct SciPyAgreementTests {
    static let path = PackagePaths.fixture("scipy/reference.json").path

    @Test func everyCaseAgrees() throws {
        let claim = try StatisticsValidation.s3(referencePath: Self.path)
        let run = claim.run(cases: ClaimCatalogue.testCases, seed: 1)
        #expect(run.cases == claim.examples.count && run.cases >= 60, "every reference case, once")
        #expect(run.failures == 0 && run.status == .holds, "\(run.counterexample ?? "")")
        let rows = StatisticsValidation.rows(run.pinned)
        #expect(rows.count >= 13)
        for r in rows {
            #expect(
                r.worstPValueRelativeDifference <= r.tolerance,
                "\(r.test): worst p-value relative difference \(r.worstPValueRelativeDifference) > \(r.tolerance)")
            #expect(
                r.worstStatisticRelativeDifference <= StatisticsValidation.statisticTolerance,
                "\(r.test): statistic differs by \(r.worstStatisticRelativeDifference)")
        }
    }

    /// A reference case of a kind the code does not know fails the claim (it used to be skipped,
    /// which would let a whole routine go unchecked).
    @Test func unknownKindFailsInsteadOfBeingSkipped() throws {
        var c = try #require(StatisticsValidation.load(referencePath: Self.path).first)
        c.kind = "t3"
        let claim = Claim<StatisticsValidation.Case>(
            id: "S3x", title: "", statement: "", symbols: "", proof: "", examples: [c], generate: nil,
            check: StatisticsValidation.check)
        let run = claim.run(cases: 1, seed: 1)
        #expect(run.failures == 1 && run.status == .falsified)
        #expect(run.counterexample?.contains("unknown kind 't3'") == true, "\(run.counterexample ?? "")")
    }

    /// An unreadable reference file is an error, never an empty (vacuously holding) claim.
    @Test func missingReferenceIsAnError() {
        #expect(throws: (any Error).self) { try StatisticsValidation.s3(referencePath: "/nonexistent/reference.json") }
    }
}
