import GradientCheck
import Foundation
// Client benchmark (see run.sh). LayerNorm over 64 channels, 4 tokens: g: R^256 -> R^256, and its exact Jacobian (block diagonal).
func ln(_ x: [Double]) -> [Double] {
    var y = [Double](repeating: 0, count: x.count)
    for t in 0..<4 {
        let s = x[(t * 64)..<(t * 64 + 64)]
        let m = s.reduce(0, +) / 64
        let v = s.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 64
        let r = 1 / (v + 1e-5).squareRoot()
        for c in 0..<64 { y[t * 64 + c] = (x[t * 64 + c] - m) * r }
    }
    return y
}
func jac(_ x: [Double]) -> [[Double]] {
    var j = [[Double]](repeating: [Double](repeating: 0, count: 256), count: 256)
    for t in 0..<4 {
        let s = Array(x[(t * 64)..<(t * 64 + 64)])
        let m = s.reduce(0, +) / 64
        let v = s.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 64
        let r = 1 / (v + 1e-5).squareRoot()
        let z = s.map { ($0 - m) * r }
        for a in 0..<64 { for b in 0..<64 {
            j[t * 64 + a][t * 64 + b] = r * ((a == b ? 1 : 0) - 1.0 / 64 - z[a] * z[b] / 64)
        } }
    }
    return j
}

var g = SeededGenerator(seed: 1)
let x = (0..<256).map { _ in Double.random(in: -2...2, using: &g) }
let J = jac(x)
var c = GradientChecker(); c.size = .full
let t0 = Date()
let r = try c.checkJacobian(of: ln, at: x, jacobian: J)
let dt = Date().timeIntervalSince(t0)
print(String(format: "LN 4x64 full Jacobian check: %.3f s, %d evaluations, passed %@", dt, r.evaluations, r.passed ? "yes" : "no"))
print(r.summary)
