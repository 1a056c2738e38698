/// Every claim of the catalogue, in the order of the spec. Adding a claim is adding one
/// definition and listing it here.
public enum ClaimCatalogue {
    public static let all: [any CatalogueEntry] = [
        OutlierFiltrationClaims.k1, OutlierFiltrationClaims.k2, OutlierFiltrationClaims.k3, OutlierFiltrationClaims.k4,
        GradientCalibrationClaims.g1, GradientCalibrationClaims.g2, GradientCalibrationClaims.g3, GradientCalibrationClaims.g4,
        FusionClaims.f1, FusionClaims.f2, FusionClaims.f3,
        StatisticalClaims.s1,
        ScaleInvarianceClaims.n1,
    ]
}
