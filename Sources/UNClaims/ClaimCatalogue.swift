import Foundation

/// Every claim of the catalogue, in the order of the spec. Adding a claim is adding one
/// definition (a ``Claim``: statement, proof link, generator, pinned examples, check) and
/// listing it here; `swift test` (`CatalogueGeneratorTests`) and the report pick it up.
public enum ClaimCatalogue {
    /// Cases per claim in `swift test` (`CatalogueGeneratorTests` runs every entry's own generator
    /// this many times, divided by the claim's ``Claim/relativeCost``, after its pinned examples);
    /// the report runs `effort ×` this many (default effort 100).
    public static let testCases = 40

    /// The claims whose inputs the catalogue generates (everything but S3, whose inputs are the
    /// recorded SciPy reference set; see ``entries(referencePath:)``).
    public static let generated: [any CatalogueEntry] = [
        OutlierFiltrationClaims.k1, OutlierFiltrationClaims.k2, OutlierFiltrationClaims.k3, OutlierFiltrationClaims.k4,
        GradientCalibrationClaims.g1, GradientCalibrationClaims.g2, GradientCalibrationClaims.g3,
        GradientCalibrationClaims.g4, GradientMap.g5,
        FusionClaims.f1, FusionClaims.f2, FusionClaims.f3,
        StatisticalClaims.s1, StatisticalClaims.s2,
        ScaleInvarianceClaims.n1,
    ]

    /// `Tests/Fixtures/scipy/reference.json` under `packageRoot`.
    public static func scipyReferencePath(packageRoot: String = ".") -> String {
        packageRoot + "/Tests/Fixtures/scipy/reference.json"
    }

    /// Every claim, S3 on the SciPy reference set at `referencePath`, in the spec's order.
    /// - Throws: the reference file's read or decoding error (never a catalogue without S3).
    public static func entries(referencePath: String = scipyReferencePath()) throws -> [any CatalogueEntry] {
        var all = generated
        let s2 = all.firstIndex { $0.id == "S2" }!
        all.insert(try StatisticsValidation.s3(referencePath: referencePath), at: s2 + 1)
        return all
    }
}
