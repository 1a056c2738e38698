/// Gradients returned by a layer's backward pass.
public struct NormGradients<Scalar: NormScalar>: Sendable, Equatable {
    /// `∂L/∂X`, same shape as the input.
    public var input: TokenBatch<Scalar>
    /// `∂L/∂γ`, one per channel.
    public var weight: [Scalar]
    /// `∂L/∂β`, one per channel.
    public var bias: [Scalar]

    /// Gradients from their parts (for example a buffer to pass to ``NormalizationLayer/backward(_:cache:into:)``).
    public init(input: TokenBatch<Scalar>, weight: [Scalar], bias: [Scalar]) {
        self.input = input
        self.weight = weight
        self.bias = bias
    }
}

/// A normalization layer with an affine output `Y = γ ⊙ Z + β`, a training forward pass that
/// may update state, a hand-derived backward pass, and an inference form.
///
/// Layers are value types: copying a layer copies its whole training state, which is what lets
/// a gradient checker evaluate "the forward at this state" repeatedly without side effects.
public protocol NormalizationLayer: Sendable {
    associatedtype Scalar: NormScalar
    /// What the backward pass needs from the forward pass.
    associatedtype Cache: Sendable

    /// A short human-readable name ("LayerNorm", "UN (reference-compatible)").
    var name: String { get }
    var channels: Int { get }
    /// `γ` (validated to have `channels` finite entries when set through `setAffine`).
    var weight: [Scalar] { get }
    var bias: [Scalar] { get }
    mutating func setAffine(weight: [Scalar], bias: [Scalar]) throws

    /// Training-mode forward; may advance iteration counters and running statistics.
    mutating func forwardTraining(_ x: TokenBatch<Scalar>) throws -> (output: TokenBatch<Scalar>, cache: Cache)
    /// Hand-derived backward for the forward that produced `cache`; may update gradient state.
    mutating func backward(_ gradOutput: TokenBatch<Scalar>, cache: Cache) throws -> NormGradients<Scalar>
    /// Inference-mode forward (no state change).
    func forwardInference(_ x: TokenBatch<Scalar>) throws -> TokenBatch<Scalar>
    /// The inference form as a per-channel affine map, or `NormalizationError.notFoldable`.
    func inferenceAffine() throws -> ChannelAffine<Scalar>

    /// ``forwardInference(_:)`` writing into `output`: its buffer is reused when it has as many
    /// entries as `x` and is not shared, so a loop that passes the same `output` allocates nothing
    /// (a fresh 4 MB tensor costs about a thousand page faults, more than LayerNorm itself).
    /// On return `output` has `x`'s shape and mask; after a throw its values are unspecified.
    /// - Throws: as ``forwardInference(_:)``.
    func forwardInference(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws
    /// ``forwardTraining(_:)`` writing into `output` (reused as in ``forwardInference(_:into:)``).
    /// - Returns: the cache for ``backward(_:cache:)``.
    /// - Throws: as ``forwardTraining(_:)``.
    mutating func forwardTraining(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws -> Cache
    /// ``backward(_:cache:)`` writing `∂L/∂X` into `gradients.input` (reused as in
    /// ``forwardInference(_:into:)``).
    /// - Throws: as ``backward(_:cache:)``.
    mutating func backward(
        _ gradOutput: TokenBatch<Scalar>, cache: Cache, into gradients: inout NormGradients<Scalar>) throws
}

// Defaults for layers without a reusing kernel: the allocating call, assigned.
extension NormalizationLayer {
    public func forwardInference(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws {
        output = try forwardInference(x)
    }
    public mutating func forwardTraining(_ x: TokenBatch<Scalar>, into output: inout TokenBatch<Scalar>) throws
        -> Cache
    {
        let r = try forwardTraining(x)
        output = r.output
        return r.cache
    }
    public mutating func backward(
        _ gradOutput: TokenBatch<Scalar>, cache: Cache, into gradients: inout NormGradients<Scalar>
    ) throws {
        gradients = try backward(gradOutput, cache: cache)
    }
}

extension TokenBatch {
    /// Zeros of the right count where a reusing kernel took `values` and then threw: the batch
    /// keeps its shape invariant (its values unspecified, as documented).
    mutating func restoreCount() {
        if values.count != rows * channels { values = [Scalar](repeating: 0, count: rows * channels) }
    }

    /// `self = body(&values)`, the batch's buffer lent to `body` as the storage of its result
    /// (see `RowKernels.output(_:reusing:)`), and the shape invariant kept if `body` throws.
    mutating func overwrite(with body: (inout [Scalar]) throws -> TokenBatch) rethrows {
        _ = try overwrite { (try body(&$0), ()) }
    }

    /// The same for a body that also returns a value (a cache).
    mutating func overwrite<R>(with body: (inout [Scalar]) throws -> (TokenBatch, R)) rethrows -> R {
        do {
            let (batch, r) = try body(&values)
            self = batch
            return r
        } catch {
            restoreCount()
            throw error
        }
    }
}

extension NormGradients {
    /// `self = body(&input.values)`, as ``TokenBatch/overwrite(with:)``.
    mutating func overwrite(with body: (inout [Scalar]) throws -> NormGradients) rethrows {
        do { self = try body(&input.values) } catch {
            input.restoreCount()
            throw error
        }
    }
}

extension NormalizationLayer {
    /// Validates an affine parameter pair for `channels` channels.
    static func validatedAffine(_ weight: [Scalar], _ bias: [Scalar], channels: Int) throws {
        try requireCount(weight, channels, "weight")
        try requireCount(bias, channels, "bias")
        try requireFinite(weight, "weight")
        try requireFinite(bias, "bias")
    }
}

/// The most channels a layer accepts: 2²⁴ (its parameters and statistics are arrays of that length;
/// `Int.max` channels used to trap in the allocation instead of throwing).
public let maximumNormalizationChannels = 1 << 24

/// Validates the shared configuration values of the layers.
enum ConfigurationCheck {
    static let maximumChannels = maximumNormalizationChannels

    static func channels(_ c: Int) throws {
        guard c >= 1, c <= maximumChannels else {
            throw NormalizationError.invalidConfiguration(
                parameter: "channels", value: "\(c)", requirement: "must lie in 1...\(maximumChannels)")
        }
    }
    static func atMost(_ v: Int, _ upper: Int, _ name: String) throws {
        guard v <= upper else {
            throw NormalizationError.invalidConfiguration(
                parameter: name, value: "\(v)", requirement: "must be at most \(upper)")
        }
    }
    static func eps<S: NormScalar>(_ e: S) throws {
        guard e.isFinite, e > 0 else {
            throw NormalizationError.invalidConfiguration(
                parameter: "eps", value: "\(e)", requirement: "must be finite and > 0")
        }
    }
    static func momentum<S: NormScalar>(_ m: S, name: String = "momentum") throws {
        guard m.isFinite, m >= 0, m < 1 else {
            throw NormalizationError.invalidConfiguration(
                parameter: name, value: "\(m)", requirement: "must lie in [0, 1)")
        }
    }
    static func atLeast(_ v: Int, _ lower: Int, _ name: String) throws {
        guard v >= lower else {
            throw NormalizationError.invalidConfiguration(
                parameter: name, value: "\(v)", requirement: "must be at least \(lower)")
        }
    }
}
