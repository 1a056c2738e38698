import UnifiedNormalization

/// A tiny Vision Transformer (Dosovitskiy et al. 2020, arXiv:2010.11929) for 8 × 8 one-channel
/// images: 16 patches of 2 × 2 pixels, each embedded by a ``Dense`` `4 → d`; a learned class
/// token prepended (17 tokens); learned position embeddings; a pre-norm ``TransformerEncoder``
/// (bidirectional, nothing padded); a ``Dense`` head `d → classes` on the class token's output.
///
/// Shapes: `images` is `B × 64` row-major (pixel `(row, col)` at `row·8 + col`), logits `B × classes`.
public struct VisionTransformer<Norm: NormalizationLayer>: Sendable where Norm.Scalar == Double {
    public static var side: Int { 8 }
    public static var patchSide: Int { 2 }
    public static var patchCount: Int { 16 }
    /// Class token and patches.
    public static var tokens: Int { 17 }

    public let classes: Int
    public internal(set) var patchEmbedding: Dense
    public internal(set) var classToken: [Double]
    public internal(set) var positions: PositionEmbedding
    public internal(set) var encoder: TransformerEncoder<Norm>
    public internal(set) var head: Dense
    public var width: Int { encoder.width }

    public struct Cache: Sendable {
        let patches: [Double]
        let encoder: TransformerEncoder<Norm>.Cache
        let classRows: [Double]
        let batch: Int
    }

    /// - Parameters:
    ///   - width: `d` (divisible by `heads`).
    ///   - makeNorm: makes every norm (`N₁`, `N₂` of each block and the final norm) for `d` channels.
    /// - Throws: ``LabError`` for a bad size, ``LabError/normalization(_:)`` from `makeNorm`.
    public init(
        classes: Int = 10, width: Int, heads: Int, layers: Int, makeNorm: (Int) throws -> Norm,
        using rng: inout LabRandom
    ) throws {
        try requirePositive(classes, "classes")
        let pixels = Self.patchSide * Self.patchSide
        self.classes = classes
        patchEmbedding = try Dense(inputs: pixels, outputs: width, using: &rng)
        classToken = (0..<width).map { _ in 0.02 * rng.normal() }
        positions = try PositionEmbedding(positions: Self.tokens, width: width, using: &rng)
        encoder = try TransformerEncoder(
            width: width, heads: heads, layers: layers, causal: false, makeNorm: makeNorm, using: &rng)
        head = try Dense(inputs: width, outputs: classes, using: &rng)
    }

    /// The 16 patches of each image as rows of 4 pixels: patch `(pr, pc)` is row `pr·4 + pc`,
    /// its pixel `(qr, qc)` is entry `qr·2 + qc`.
    static func patches(_ images: [Double], batch: Int) -> [Double] {
        var out = [Double](repeating: 0, count: images.count)
        let grid = side / patchSide
        for b in 0..<batch {
            for pr in 0..<grid {
                for pc in 0..<grid {
                    for qr in 0..<patchSide {
                        for qc in 0..<patchSide {
                            let src = b * side * side + (patchSide * pr + qr) * side + patchSide * pc + qc
                            let dst = ((b * patchCount + pr * grid + pc) * patchSide + qr) * patchSide + qc
                            out[dst] = images[src]
                        }
                    }
                }
            }
        }
        return out
    }

    func embed(_ images: [Double], batch: Int) throws -> (tokens: [Double], patches: [Double]) {
        try requirePositive(batch, "batch")
        try requireCount(images, try checkedProduct(batch, Self.side * Self.side, "images"), "images")
        try requireFinite(images, "images")
        let p = Self.patches(images, batch: batch)
        let e = try patchEmbedding.forward(p, rows: batch * Self.patchCount)
        let d = width
        var x = [Double](repeating: 0, count: batch * Self.tokens * d)
        for b in 0..<batch {
            for c in 0..<d { x[b * Self.tokens * d + c] = classToken[c] }
            for i in 0..<(Self.patchCount * d) { x[b * Self.tokens * d + d + i] = e[b * Self.patchCount * d + i] }
        }
        try positions.add(to: &x, batch: batch, tokens: Self.tokens)
        return (x, p)
    }

    func classRows(_ h: [Double], batch: Int) -> [Double] {
        let d = width
        return (0..<batch).flatMap { b in h[(b * Self.tokens * d)..<(b * Self.tokens * d + d)] }
    }

    /// Training forward: logits `B × classes` (the norms may advance their state).
    /// - Throws: ``LabError`` for wrongly sized or non-finite images, or a norm's error.
    public mutating func forward(images: [Double], batch: Int) throws -> (logits: [Double], cache: Cache) {
        let (x, p) = try embed(images, batch: batch)
        let (h, ce) = try encoder.forward(x, batch: batch, tokens: Self.tokens, padMask: nil)
        let cls = classRows(h, batch: batch)
        return (try head.forward(cls, rows: batch), Cache(patches: p, encoder: ce, classRows: cls, batch: batch))
    }

    /// Inference logits (norms in inference mode; no state change).
    /// - Throws: as ``forward(images:batch:)``.
    public func inference(images: [Double], batch: Int) throws -> [Double] {
        let x = try embed(images, batch: batch).tokens
        let h = try encoder.inference(x, batch: batch, tokens: Self.tokens, padMask: nil)
        return try head.forward(classRows(h, batch: batch), rows: batch)
    }

    /// Parameter gradients (order of ``parameters``) from `∂L/∂logits`.
    /// - Throws: ``LabError`` for a wrongly sized gradient or a norm's error.
    public mutating func backward(_ dlogits: [Double], cache: Cache) throws -> [[Double]] {
        let batch = cache.batch
        let d = width
        let gh = try head.backward(dlogits, input: cache.classRows, rows: batch)
        var dout = [Double](repeating: 0, count: batch * Self.tokens * d)
        for b in 0..<batch { for c in 0..<d { dout[b * Self.tokens * d + c] = gh.input[b * d + c] } }
        let ge = try encoder.backward(dout, cache: cache.encoder, batch: batch, tokens: Self.tokens, padMask: nil)
        let dx = ge.input
        let dpos = try positions.gradient(dx, batch: batch, tokens: Self.tokens)
        var dcls = [Double](repeating: 0, count: d)
        var dpatch = [Double](repeating: 0, count: batch * Self.patchCount * d)
        for b in 0..<batch {
            for c in 0..<d { dcls[c] += dx[b * Self.tokens * d + c] }
            for i in 0..<(Self.patchCount * d) { dpatch[b * Self.patchCount * d + i] = dx[b * Self.tokens * d + d + i] }
        }
        let gp = try patchEmbedding.backward(dpatch, input: cache.patches, rows: batch * Self.patchCount)
        return [gp.weight, gp.bias, dcls, dpos] + ge.parameters + [gh.weight, gh.bias]
    }

    /// Mean cross-entropy of `labels` (training forward) and its gradient (order of ``parameters``).
    /// - Throws: ``LabError`` for bad images or labels, or a norm's error.
    public mutating func lossAndGradient(images: [Double], labels: [Int]) throws -> (loss: Double, gradient: [[Double]])
    {
        let (logits, cache) = try forward(images: images, batch: labels.count)
        let (loss, dl) = try CrossEntropy.loss(logits: logits, classes: classes, targets: labels)
        return (loss, try backward(dl, cache: cache))
    }

    /// Mean cross-entropy through the training forward (what ``lossAndGradient(images:labels:)`` differentiates).
    /// - Throws: as ``lossAndGradient(images:labels:)``.
    public mutating func loss(images: [Double], labels: [Int]) throws -> Double {
        let logits = try forward(images: images, batch: labels.count).logits
        return try CrossEntropy.loss(logits: logits, classes: classes, targets: labels).loss
    }

    /// The predicted class of each image (inference mode; the index of a largest logit).
    /// - Throws: as ``inference(images:batch:)``.
    public func predict(images: [Double], batch: Int) throws -> [Int] {
        let z = try inference(images: images, batch: batch)
        return (0..<batch).map { b in
            let row = z[(b * classes)..<((b + 1) * classes)]
            return row.indices.max { row[$0] < row[$1] }! - b * classes
        }
    }

    /// Patch embedding `W, b`, class token, position table, the encoder's tensors, head `W, b`.
    public var parameters: [[Double]] {
        [patchEmbedding.weight, patchEmbedding.bias, classToken, positions.table] + encoder.parameters
            + [head.weight, head.bias]
    }

    /// - Throws: ``LabError`` unless `p` matches ``parameters`` in count and sizes, all finite.
    public mutating func setParameters(_ p: [[Double]]) throws {
        try ParameterTensors.validate(p[...], like: parameters, "ViT")
        var m = self
        try m.patchEmbedding.setParameters(weight: p[0], bias: p[1])
        m.classToken = p[2]
        try m.positions.set(p[3])
        try m.encoder.setParameters(p[4..<(p.count - 2)])
        try m.head.setParameters(weight: p[p.count - 2], bias: p[p.count - 1])
        self = m
    }
}
