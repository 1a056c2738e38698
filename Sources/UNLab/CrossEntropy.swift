import RealModule

/// Mean softmax cross-entropy over the real (non-padded) targets:
/// `L = −(1/R) Σ_{real r} log softmax(z_r)[y_r]`, `R` the number of real rows, and its gradient
/// `∂L/∂z_r = (softmax(z_r) − onehot(y_r)) / R` for real rows, 0 for padded ones.
public enum CrossEntropy {
    /// - Parameters:
    ///   - logits: `rows × classes`, row-major.
    ///   - targets: `rows` class indices (ignored where `ignore` is `true`).
    ///   - ignore: `rows` flags, `true` = padded target; `nil`: every target is real.
    /// - Returns: the mean loss and `∂L/∂logits`.
    /// - Throws: ``LabError/shapeMismatch(what:expected:actual:)``;
    ///   ``LabError/indexOutOfRange(what:index:value:range:)`` for a real target outside
    ///   `0..<classes`; ``LabError/noRealTokens(what:)`` when every target is ignored;
    ///   ``LabError/nonFinite(what:index:)`` for a non-finite logit.
    public static func loss(logits: [Double], classes: Int, targets: [Int], ignore: [Bool]? = nil) throws
        -> (loss: Double, gradient: [Double])
    {
        try requirePositive(classes, "classes")
        let rows = targets.count
        try requireCount(logits, try checkedProduct(rows, classes, "logits"), "logits")
        if let m = ignore, m.count != rows {
            throw LabError.shapeMismatch(what: "ignore mask", expected: [rows], actual: [m.count])
        }
        try requireFinite(logits, "logits")
        let real = (0..<rows).filter { !(ignore?[$0] ?? false) }
        guard !real.isEmpty else { throw LabError.noRealTokens(what: "cross-entropy targets") }
        for r in real where !(0..<classes).contains(targets[r]) {
            throw LabError.indexOutOfRange(what: "targets", index: r, value: targets[r], range: 0..<classes)
        }
        let count = Double(real.count)
        var total = 0.0
        var grad = [Double](repeating: 0, count: logits.count)
        for r in real {
            let row = logits[(r * classes)..<((r + 1) * classes)]
            // log Σ exp(z) − z_y, shifted by the maximum so that no exp overflows.
            let top = row.max()!
            let sum = row.reduce(0.0) { $0 + Double.exp($1 - top) }
            // (top − z_y) first: it is small where top and z_y are huge and close (1e20 + ln 2 − 1e20
            // lost ln 2 entirely); beyond the range it is a typed error, not ∞.
            let rowLoss = (top - logits[r * classes + targets[r]]) + Double.log(sum)
            guard rowLoss.isFinite else {
                throw LabError.nonFinite(what: "cross-entropy of row \(r) (beyond the range)", index: r)
            }
            total += rowLoss / count
            for j in 0..<classes {
                grad[r * classes + j] = Double.exp(logits[r * classes + j] - top) / sum / count
            }
            grad[r * classes + targets[r]] -= 1 / count
        }
        return (total, grad)
    }
}
