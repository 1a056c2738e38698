/// The derivative at 0 from a least-squares polynomial fit to many samples of `G(t)`, `|t| ≤ H`
/// (Lanczos' differentiation by integration; Savitzky–Golay on an irregular grid).
///
/// Why: a Richardson tableau uses a handful of samples, so its accuracy is limited by the
/// function's rounding noise at the few steps it takes (in `Float`, ~1e-5 relative on a LayerNorm
/// of 64 channels). A fit to `M` samples averages that noise: the slope's standard error falls as
/// `σ / (H √M)`. The noise `σ` is measured from the fit's own residuals, and the truncation error
/// from the change of the slope between polynomial degrees `d` and higher ones.
///
/// The band of component `i` is `6 σ √v_d + 2 max_{d' > d} |c₁(d) − c₁(d')|` (`d' ≤ 11`) at the
/// degree `d ∈ {3, 5, 7, 9}` that makes it smallest, with `v_d` the slope's variance factor
/// `((AᵀA)⁻¹)₁₁ / H²`.
/// Six standard errors: rounding errors at distinct points behave as independent and bounded,
/// so the slope's error is a sum of many small independent terms and nearly Gaussian
/// (`P(|Z| > 6) ≈ 2·10⁻⁹`); the residual noise comes from the degree-9 fit, which absorbs
/// whatever truncation the lower degrees leave (if any is left, σ is overestimated, never under),
/// and it is inflated by the residuals' serial correlation (``inflation(_:_:_:)``).
struct LeastSquaresDerivative {
    /// Samples: the displacements actually applied and the values there, per component.
    var t: [Double]
    var values: [[Double]]
    var halfWidth: Double

    /// The slope and its band, per component.
    func estimate() -> (value: [Double], error: [Double]) {
        let m = t.count
        let components = values.first?.count ?? 0
        let s = t.map { $0 / halfWidth }
        let degrees = [3, 5, 7, 9, 11]
        var slopes = [[Double]](repeating: [], count: degrees.count)
        var variance = [Double](repeating: .infinity, count: degrees.count)
        var residualNoise = [Double](repeating: .infinity, count: components)
        let fits = Self.fits(s, values, degrees: degrees, components: components)
        for (k, d) in degrees.enumerated() {
            guard let fit = fits[k], m > d + 4 else {
                slopes[k] = [Double](repeating: .nan, count: components)
                continue
            }
            slopes[k] = fit.slope.map { $0 / halfWidth }
            variance[k] = fit.slopeVariance / (halfWidth * halfWidth)
            if d == 9 {
                residualNoise = (0..<components).map { i in
                    let sd = (fit.residualSquares[i] / Double(m - d - 1)).squareRoot()
                    return sd * Self.inflation(s, values.map { $0[i] }, fit.coefficients[i]).squareRoot()
                }
            }
        }
        var value = [Double](repeating: 0, count: components)
        var error = [Double](repeating: .infinity, count: components)
        for i in 0..<components {
            for k in 0..<(degrees.count - 2) {
                let a = slopes[k][i]
                // Truncation: the largest change of the slope at any higher degree (one change
                // can be small by accident while the model is still off).
                let higher = slopes[(k + 1)...].map { $0[i] }
                guard a.isFinite, higher.allSatisfy(\.isFinite), variance[k].isFinite else { continue }
                let truncation = higher.map { abs(a - $0) }.max() ?? .infinity
                let band = 6 * residualNoise[i] * variance[k].squareRoot() + 2 * truncation
                if band < error[i] {
                    error[i] = band
                    value[i] = a
                }
            }
        }
        // Where neighbouring samples tie, the values are quantized at this spacing: a slope of up
        // to one quantum (the smallest non-zero change seen) across the window can hide in them,
        // whatever the residuals say (all samples equal: no information at all).
        let order = t.indices.sorted { t[$0] < t[$1] }
        for i in 0..<components {
            var ties = false
            var quantum = Double.infinity
            for (p, q) in zip(order, order.dropFirst()) {
                let c = abs(values[p][i] - values[q][i])
                if c == 0 { ties = true } else { quantum = min(quantum, c) }
            }
            if ties { error[i] = max(error[i], quantum / (2 * halfWidth)) }
        }
        return (value, error)
    }

    /// The variance inflation of the residuals' serial correlation, `τ = 1 + 2 Σ ρ_l`, over the
    /// initial positive sequence of lag autocorrelations (Geyer 1992), at least 1. Rounding errors
    /// at distinct points are independent (`τ ≈ 1`), but a function quantized more coarsely than
    /// its trend between neighbouring samples is a staircase whose residuals form a sawtooth:
    /// there `τ` counts the samples per tooth, and the slope's standard error grows by `√τ`.
    static func inflation(_ s: [Double], _ y: [Double], _ c: [Double]) -> Double {
        let order = s.indices.sorted { s[$0] < s[$1] }
        let r = order.map { k in y[k] - c.reversed().reduce(0.0) { $0 * s[k] + $1 } }
        let m = r.count
        let mean = r.reduce(0, +) / Double(m)
        let d = r.map { $0 - mean }
        let c0 = d.reduce(0) { $0 + $1 * $1 }
        guard c0 > 0 else { return 1 }
        var tau = 1.0
        var lag = 1
        while lag < m / 4 {
            var sum = 0.0
            for k in 0..<(m - lag) { sum += d[k] * d[k + lag] }
            let rho = sum / c0
            if rho <= 0 { break }
            tau += 2 * rho
            lag += 1
        }
        return tau
    }

    struct Fit {
        var coefficients: [[Double]]
        var slope: [Double]
        var slopeVariance: Double
        var residualSquares: [Double]
    }

    /// Least squares `min ‖A c − y‖` with `A_{kj} = s_k^j`, `j = 0…degree`, by Householder QR
    /// (the normal equations would square the Vandermonde matrix's condition number), for every
    /// degree in `degrees`. The fits of every degree in `degrees` (ascending) from one QR factorization of the widest
    /// Vandermonde matrix. Why one is enough: Householder QR processes the columns left to right,
    /// and neither the reflector of column `j` nor what it does to columns `≤ d` and to rows `≤ d`
    /// of the right-hand sides depends on the columns after `d`; so the fit of degree `d` is read
    /// off after reflection `d` with exactly the operations (and roundings) of a factorization of
    /// its own `d + 1` columns, at a fifth of the cost of five factorizations.
    static func fits(_ s: [Double], _ y: [[Double]], degrees: [Int], components: Int) -> [Fit?] {
        let m = s.count
        var out = [Fit?](repeating: nil, count: degrees.count)
        // Only degrees with more samples than coefficients can be fitted.
        guard let top = degrees.filter({ m > $0 + 1 }).max() else { return out }
        let n = top + 1
        // Column-major A and right-hand sides.
        var a = [Double](repeating: 0, count: m * n)
        for k in 0..<m {
            var p = 1.0
            for j in 0..<n {
                a[j * m + k] = p
                p *= s[k]
            }
        }
        var b = [Double](repeating: 0, count: m * components)
        for k in 0..<m {
            for i in 0..<components { b[i * m + k] = y[k][i] }
        }
        var diag = [Double](repeating: 0, count: n)
        // R: diag on the diagonal, a[c*m + r] above it (final once reflection r is applied).
        func r(_ row: Int, _ col: Int) -> Double { row == col ? diag[row] : a[col * m + row] }
        /// The fit of degree `d` once reflections `0…j` are applied.
        func read(degree d: Int) -> Fit? {
            let n = d + 1
            var slope = [Double](repeating: 0, count: components)
            var residual = [Double](repeating: 0, count: components)
            var coefficients = [[Double]](repeating: [], count: components)
            for i in 0..<components {
                var c = [Double](repeating: 0, count: n)
                for row in stride(from: n - 1, through: 0, by: -1) {
                    var v = b[i * m + row]
                    for col in (row + 1)..<n { v -= r(row, col) * c[col] }
                    c[row] = v / r(row, row)
                }
                slope[i] = c[1]
                coefficients[i] = c
                var rss = 0.0
                for k in n..<m { rss += b[i * m + k] * b[i * m + k] }
                residual[i] = rss
            }
            // ((AᵀA)⁻¹)₁₁ = ((RᵀR)⁻¹)₁₁ = ‖row 1 of R⁻¹‖², and row 1 of R⁻¹ is the w with
            // wᵀR = e₁ᵀ, i.e. Rᵀw = e₁ (forward substitution).
            var w = [Double](repeating: 0, count: n)
            for row in 0..<n {
                var v = row == 1 ? 1.0 : 0.0
                for col in 0..<row { v -= r(col, row) * w[col] }
                w[row] = v / r(row, row)
            }
            let variance = w.reduce(0) { $0 + $1 * $1 }
            guard variance.isFinite, slope.allSatisfy(\.isFinite) else { return nil }
            return Fit(
                coefficients: coefficients, slope: slope, slopeVariance: variance, residualSquares: residual)
        }
        func readFits(after j: Int) {
            for (q, d) in degrees.enumerated() where d == j && m > d + 1 { out[q] = read(degree: d) }
        }
        for j in 0..<n {
            var norm = 0.0
            for k in j..<m { norm += a[j * m + k] * a[j * m + k] }
            norm = norm.squareRoot()
            // A zero column: no fit of this degree or above.
            guard norm > 0 else { return out }
            let alpha = a[j * m + j] > 0 ? -norm : norm
            a[j * m + j] -= alpha
            var vv = 0.0
            for k in j..<m { vv += a[j * m + k] * a[j * m + k] }
            diag[j] = alpha
            guard vv > 0 else {
                readFits(after: j)
                continue
            }
            func reflect(_ base: Int, in x: inout [Double]) {
                var dot = 0.0
                for k in j..<m { dot += a[j * m + k] * x[base + k] }
                let f = 2 * dot / vv
                for k in j..<m { x[base + k] -= f * a[j * m + k] }
            }
            for c in (j + 1)..<max(n, j + 1) {
                var dot = 0.0
                for k in j..<m { dot += a[j * m + k] * a[c * m + k] }
                let f = 2 * dot / vv
                for k in j..<m { a[c * m + k] -= f * a[j * m + k] }
            }
            for i in 0..<components { reflect(i * m, in: &b) }
            readFits(after: j)
        }
        return out
    }
}
