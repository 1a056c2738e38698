import COpenBLAS

/// Matrix products through BLAS (`cblas_dgemm` of Debian's OpenBLAS); the lab has no GEMM of its own.
///
/// Matrices are row-major `[Double]` arrays. Sizes are checked by the callers' shapes: every
/// call site passes operands whose lengths it has validated, and the wrapper checks them again
/// (a wrong length would make BLAS read out of bounds, so it is a typed error, not a trap).
enum BLAS {
    /// `C ← α·op(A)·op(B) + β·C`, `op(A)` `m × k`, `op(B)` `k × n`, `C` `m × n`, with leading
    /// dimensions and element offsets so that a head's columns of a wider matrix can be used in place.
    struct Operand {
        var offset = 0
        var leading: Int
        var transposed = false
    }

    static func gemm(
        m: Int, n: Int, k: Int, alpha: Double = 1,
        _ a: [Double], _ oa: Operand, _ b: [Double], _ ob: Operand,
        beta: Double = 0, into c: inout [Double], _ oc: Operand
    ) throws {
        let limit = Int(Int32.max)
        guard m >= 0, n >= 0, k >= 0, m <= limit, n <= limit, k <= limit,
            [oa, ob, oc].allSatisfy({ $0.leading <= limit })
        else {
            throw LabError.shapeMismatch(what: "gemm sizes", expected: [], actual: [m, n, k])
        }
        if m == 0 || n == 0 { return }
        // The last element each operand touches must lie inside its array.
        func need(_ rows: Int, _ cols: Int, _ o: Operand, _ count: Int, _ what: String) throws {
            let (r, c) = o.transposed ? (cols, rows) : (rows, cols)
            guard r == 0 || c == 0 || (o.leading >= c && o.offset >= 0 && o.offset + (r - 1) * o.leading + c <= count)
            else { throw LabError.shapeMismatch(what: "gemm \(what)", expected: [r, c, o.leading], actual: [count]) }
        }
        try need(m, k, oa, a.count, "A")
        try need(k, n, ob, b.count, "B")
        try need(m, n, oc, c.count, "C")
        guard k > 0 else {
            for i in 0..<m { for j in 0..<n { c[oc.offset + i * oc.leading + j] *= beta } }
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_dgemm(
                        CblasRowMajor, oa.transposed ? CblasTrans : CblasNoTrans,
                        ob.transposed ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, pa.baseAddress! + oa.offset, Int32(oa.leading),
                        pb.baseAddress! + ob.offset, Int32(ob.leading), beta, pc.baseAddress! + oc.offset,
                        Int32(oc.leading))
                }
            }
        }
    }

    /// `A·B` for row-major `A` (`m × k`) and `B` (`k × n`), with optional transposes.
    static func matmul(
        _ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false
    ) throws -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        try gemm(
            m: m, n: n, k: k, a, Operand(leading: transA ? m : k, transposed: transA), b,
            Operand(leading: transB ? k : n, transposed: transB), into: &c, Operand(leading: n))
        return c
    }
}
