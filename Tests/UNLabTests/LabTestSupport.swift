import GradientCheck
import UNLab
import UnifiedNormalization

/// Random arrays for the tests (seeded, so every run checks the same points).
struct TestData {
    var rng: LabRandom
    init(seed: UInt64) { rng = LabRandom(seed: seed) }
    mutating func normals(_ n: Int, scale: Double = 1) -> [Double] { (0..<n).map { _ in scale * rng.normal() } }
}

/// `⟨dy, y⟩`: the scalar whose gradient a backward pass given `dy` computes.
func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

/// The project's checker in full mode (every entry its own directional derivative, whatever the
/// size), with its default verdict rules: an entry passes only when the numerical derivative
/// resolves it to 1e-6 relative (Double) and the analytic value lies inside the band.
func fullChecker() -> GradientChecker {
    var c = GradientChecker()
    c.size = .full
    return c
}
