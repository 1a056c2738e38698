/// Activations of one normalization layer: `B × N × C` (batch, tokens, channels) or `N × C`,
/// stored row-major, with an optional padding mask over the `B × N` token positions.
///
/// A *row* is one token position (`B·N` rows of `C` channels). Padded rows are excluded from
/// every statistic but are still normalized and still receive outputs and gradients, as in the
/// authors' implementation.
public struct TokenBatch<Scalar: NormScalar>: Sendable, Equatable {
    public let batch: Int
    public let tokens: Int
    public let channels: Int
    /// Whether the caller gave an unbatched `N × C` array (kept so outputs have the same shape).
    public let isUnbatched: Bool
    /// Written only inside the module (through a checked initializer or an unchecked copy of a validated
    /// batch): a client assigning an array of another length made the kernels read past it.
    public internal(set) var values: [Scalar]
    /// `B·N` flags, `true` = padded token. `nil` means every token is real.
    public let padMask: [Bool]?

    /// A `B × N × C` batch.
    public init(batch: Int, tokens: Int, channels: Int, values: [Scalar], padMask: [Bool]? = nil) throws {
        try self.init(
            batch: batch, tokens: tokens, channels: channels, values: values,
            padMask: padMask, isUnbatched: false)
    }

    /// An unbatched `N × C` array.
    public init(tokens: Int, channels: Int, values: [Scalar], padMask: [Bool]? = nil) throws {
        try self.init(
            batch: 1, tokens: tokens, channels: channels, values: values,
            padMask: padMask, isUnbatched: true)
    }

    init(batch: Int, tokens: Int, channels: Int, values: [Scalar], padMask: [Bool]?, isUnbatched: Bool) throws {
        guard batch >= 0, tokens >= 0, channels >= 0 else {
            throw NormalizationError.shapeMismatch(what: "shape", expected: [], actual: [batch, tokens, channels])
        }
        guard batch > 0, tokens > 0, channels > 0 else { throw NormalizationError.emptyBatch }
        // Every size product checked: a shape whose element count overflows cannot match any array.
        let (rows, rowsOverflow) = batch.multipliedReportingOverflow(by: tokens)
        let (n, ovf) = rows.multipliedReportingOverflow(by: channels)
        guard !rowsOverflow, !ovf, values.count == n else {
            throw NormalizationError.shapeMismatch(
                what: "values", expected: [batch, tokens, channels], actual: [values.count])
        }
        if let m = padMask, m.count != rows {
            throw NormalizationError.shapeMismatch(what: "padMask", expected: [batch, tokens], actual: [m.count])
        }
        self.batch = batch
        self.tokens = tokens
        self.channels = channels
        self.values = values
        self.padMask = padMask
        self.isUnbatched = isUnbatched
    }

    /// The same shape and mask with other values (used for outputs and gradients).
    /// - Throws: ``NormalizationError/shapeMismatch(what:expected:actual:)`` unless `newValues` has
    ///   exactly as many entries as this batch.
    public func with(values newValues: [Scalar]) throws -> TokenBatch {
        guard newValues.count == values.count else {
            throw NormalizationError.shapeMismatch(
                what: "values", expected: [values.count], actual: [newValues.count])
        }
        return withUnchecked(values: newValues)
    }

    /// The same, for the layers' own outputs, whose size is theirs by construction.
    func withUnchecked(values newValues: [Scalar]) -> TokenBatch {
        var copy = self
        copy.values = newValues
        return copy
    }

    public var rows: Int { batch * tokens }
    public var shape: [Int] { isUnbatched ? [tokens, channels] : [batch, tokens, channels] }

    /// Whether row `r` is a real (non-padded) token.
    @inlinable public func isReal(row r: Int) -> Bool { padMask.map { !$0[r] } ?? true }

    /// Number of real tokens `T`.
    public var realTokenCount: Int { padMask.map { $0.lazy.filter { !$0 }.count } ?? rows }

    /// Checks the channel count and that at least one token is real (the kernels that check
    /// finiteness themselves, in the same pass as their arithmetic, use this).
    func validatedShape(channels expected: Int, what: String = "input") throws {
        if channels != expected {
            throw NormalizationError.shapeMismatch(what: "\(what) channels", expected: [expected], actual: [channels])
        }
        if realTokenCount == 0 { throw NormalizationError.noRealTokens }
    }

    /// Checks that the batch can be normalized: finite values and at least one real token.
    func validatedForStatistics(channels expected: Int, what: String = "input") throws {
        if channels != expected {
            throw NormalizationError.shapeMismatch(what: "\(what) channels", expected: [expected], actual: [channels])
        }
        try requireFinite(values, what)
        if realTokenCount == 0 { throw NormalizationError.noRealTokens }
    }
}
