/// `max|a − e| / max|e|` in Double, NaN-aware: a non-finite entry of `a` where `e` is finite makes
/// the error infinite (`max(0, NaN)` is 0 in Swift, which once hid a NaN output), and sizes that
/// differ are an infinite error, not a trap.
public func normwiseError<S: BinaryFloatingPoint>(_ a: [S], _ e: [Double]) -> Double {
    guard a.count == e.count else { return .infinity }
    var num = 0.0
    var den = 0.0
    for i in e.indices {
        let d = abs(Double(a[i]) - e[i])
        if !d.isFinite && e[i].isFinite { return .infinity }
        num = max(num, d)
        den = max(den, abs(e[i]))
    }
    return den == 0 ? num : num / den
}
