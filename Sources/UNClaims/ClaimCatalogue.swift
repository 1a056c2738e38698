/// Every claim of the catalogue, in the order of the spec. Adding a claim is adding one
/// definition and listing it here.
public enum ClaimCatalogue {
    /// Cases per claim in `swift test` (`CatalogueGeneratorTests` runs every entry's own generator
    /// this many times); the report runs `effort ×` this many (default effort 100).
    public static let testCases = 40

    public static let all: [any CatalogueEntry] = [
        OutlierFiltrationClaims.k1, OutlierFiltrationClaims.k2, OutlierFiltrationClaims.k3, OutlierFiltrationClaims.k4,
        GradientCalibrationClaims.g1, GradientCalibrationClaims.g2, GradientCalibrationClaims.g3,
        GradientCalibrationClaims.g4,
        FusionClaims.f1, FusionClaims.f2, FusionClaims.f3,
        StatisticalClaims.s1,
        ScaleInvarianceClaims.n1,
    ]
}
