import UnifiedNormalization

/// A trained norm's inference map, split for folding (spec claim F1): the per-channel affine part
/// `a ⊙ x + b`, which folds into every linear layer that reads the norm's output, and, for the
/// authors' PowerNorm with group scaling, the per-token group RMS division that stays at run time.
/// LayerNorm and RMSNorm normalize each token by its own statistics and do not fold (their
/// ``NormalizationLayer/inferenceAffine()`` throws `notFoldable`).
struct FoldableNorm: Sendable {
    let affine: ChannelAffine<Double>
    let groupScaling: PowerNorm<Double>?

    init<Norm: NormalizationLayer>(_ norm: Norm) throws where Norm.Scalar == Double {
        if let p = norm as? PowerNorm<Double>, p.groups > 0 {
            affine = try normalizing { try p.affineAfterGroupScaling() }
            groupScaling = p
        } else {
            affine = try normalizing { try norm.inferenceAffine() }
            groupScaling = nil
        }
    }

    /// The run-time step (PowerNorm's group scaling; the identity otherwise).
    func preScale(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?) throws -> [Double] {
        guard let p = groupScaling else { return x }
        return try normalizing {
            try p.groupScaling(
                TokenBatch(batch: batch, tokens: tokens, channels: p.channels, values: x, padMask: padMask)
            ).values
        }
    }

    /// `W' = diag(a)·W`, `c' = bᵀW + c` for the lab's `X·W + c` (through ``Fusion``, which holds
    /// `W` transposed: `outputs × inputs`).
    func fold(into dense: Dense) throws -> Dense {
        let linear = try normalizing {
            try Fusion.fold(
                affine,
                intoFollowing: LinearLayer(
                    inputs: dense.inputs, outputs: dense.outputs,
                    weight: Self.transpose(dense.weight, dense.inputs, dense.outputs),
                    bias: dense.bias))
        }
        return try Dense(
            inputs: dense.inputs, outputs: dense.outputs,
            weight: Self.transpose(linear.weight, dense.outputs, dense.inputs), bias: linear.bias)
    }

    /// F2's per-entry bound on `|folded − unfolded|` for `dense(norm(x))`, `x` the pre-scaled input
    /// (`rows × inputs`): `2 γ_{n+3} (Σ_k |W_ik|(|a_k x_k| + |b_k|) + |c_i|)` (`proofs/fusion.md#f2`).
    func bound(_ dense: Dense, input x: [Double]) -> [Double] {
        Fusion.followingFoldErrorBound(
            scale: affine.scale, shift: affine.shift, weight: Self.transpose(dense.weight, dense.inputs, dense.outputs),
            bias: dense.bias, input: x, inputs: dense.inputs, outputs: dense.outputs,
            unitRoundoff: Double.ulpOfOne / 2)
    }

    /// `r × c` row-major → `c × r` row-major.
    static func transpose(_ m: [Double], _ r: Int, _ c: Int) -> [Double] {
        var t = [Double](repeating: 0, count: m.count)
        for i in 0..<r { for j in 0..<c { t[j * r + i] = m[i * c + j] } }
        return t
    }
}

/// How a folded model compares with its unfolded self on the same inputs (spec claim F2 on a
/// trained model): at every fold point (each norm with each linear layer it folds into: `W_q`,
/// `W_k`, `W_v` after `N₁`, the MLP's first layer after `N₂`, the head after the final norm) the
/// folded layer's output is compared entry by entry with the unfolded `linear(norm(x))` on the
/// inputs the unfolded model feeds it, against F2's bound; past the fold points the two models
/// differ by rounding propagated through attention, GELU and later layers, for which no bound is
/// derived: those are measured (``maxLogitDifference``) and the predictions compared.
public struct FoldCheck: Codable, Sendable, Equatable {
    /// Fold points checked and entries compared there (real tokens only).
    public var foldPoints: Int
    public var entries: Int
    /// The largest `|folded − unfolded| / bound` over those entries: at most 1 means every entry is
    /// within F2's bound (0 where both agree exactly).
    public var worstBoundRatio: Double
    /// The largest `|logit_folded − logit_unfolded|` over every compared output.
    public var maxLogitDifference: Double
    /// Predictions (arg max of the logits) compared, and how many differ.
    public var predictions: Int
    public var predictionsDiffering: Int
    /// Among those that differ, the largest gap between the unfolded model's two largest logits
    /// (a difference is explained by rounding when this gap is below `2·maxLogitDifference`).
    public var largestDifferingMargin: Double?

    public init(
        foldPoints: Int, entries: Int, worstBoundRatio: Double, maxLogitDifference: Double, predictions: Int,
        predictionsDiffering: Int, largestDifferingMargin: Double? = nil
    ) {
        self.foldPoints = foldPoints
        self.entries = entries
        self.worstBoundRatio = worstBoundRatio
        self.maxLogitDifference = maxLogitDifference
        self.predictions = predictions
        self.predictionsDiffering = predictionsDiffering
        self.largestDifferingMargin = largestDifferingMargin
    }
}

/// One pre-norm block with `N₁` folded into `W_q, W_k, W_v` and `N₂` into the MLP's first layer.
struct FoldedTransformerBlock: Sendable {
    let pre1: FoldableNorm
    let attention: MultiHeadAttention
    let pre2: FoldableNorm
    let mlp: FeedForward

    func inference(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?, causal: Bool) throws -> [Double] {
        let rows = try checkedProduct(batch, tokens, "block rows")
        let a = try pre1.preScale(x, batch: batch, tokens: tokens, padMask: padMask)
        let att = try attention.forward(a, batch: batch, tokens: tokens, padMask: padMask, causal: causal).output
        let h = zip(x, att).map(+)
        let b = try pre2.preScale(h, batch: batch, tokens: tokens, padMask: padMask)
        return zip(h, try mlp.forward(b, rows: rows).output).map(+)
    }
}

/// A ``TransformerEncoder`` with every norm folded; its output is the final norm's *input*
/// (pre-scaled), the final norm being folded into the model's head.
struct FoldedTransformerEncoder: Sendable {
    let blocks: [FoldedTransformerBlock]
    let finalNorm: FoldableNorm
    let causal: Bool

    init<Norm>(_ e: TransformerEncoder<Norm>) throws {
        blocks = try e.blocks.map { b in
            let n1 = try FoldableNorm(b.norm1)
            let n2 = try FoldableNorm(b.norm2)
            let a = b.attention
            let att = try MultiHeadAttention(
                heads: a.heads, query: n1.fold(into: a.query), key: n1.fold(into: a.key),
                value: n1.fold(into: a.value), output: a.output)
            return FoldedTransformerBlock(
                pre1: n1, attention: att, pre2: n2, mlp: try FeedForward(up: n2.fold(into: b.mlp.up), down: b.mlp.down))
        }
        finalNorm = try FoldableNorm(e.finalNorm)
        causal = e.causal
    }

    func inference(_ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?) throws -> [Double] {
        var h = x
        for b in blocks { h = try b.inference(h, batch: batch, tokens: tokens, padMask: padMask, causal: causal) }
        return try finalNorm.preScale(h, batch: batch, tokens: tokens, padMask: padMask)
    }
}

/// Accumulates the fold-point comparisons of ``FoldCheck``.
struct FoldPointTally {
    var points = 0
    var entries = 0
    var worst = 0.0

    /// Compares `folded.forward(x)` with `unfolded.forward(norm(x))` on the real rows.
    mutating func compare(
        _ norm: FoldableNorm, unfolded: Dense, folded: Dense, input x: [Double], normalized: [Double], rows: Int,
        real: [Bool]
    ) throws {
        let u = try unfolded.forward(normalized, rows: rows)
        let f = try folded.forward(x, rows: rows)
        let bound = norm.bound(unfolded, input: x)
        points += 1
        for r in 0..<rows where real[r] {
            for j in 0..<unfolded.outputs {
                let i = r * unfolded.outputs + j
                let diff = abs(f[i] - u[i])
                entries += 1
                if diff > 0 { worst = max(worst, bound[i] > 0 ? diff / bound[i] : .infinity) }
            }
        }
    }
}

extension TransformerEncoder {
    /// Walks the unfolded inference, comparing each block's fold points with `folded`'s layers;
    /// returns the final norm's unfolded input and output (for the head's fold point).
    func foldPoints(
        _ x: [Double], batch: Int, tokens: Int, padMask: [Bool]?, folded: FoldedTransformerEncoder,
        tally: inout FoldPointTally
    ) throws -> (input: [Double], output: [Double]) {
        let rows = try checkedProduct(batch, tokens, "block rows")
        let real = (0..<rows).map { padMask?[$0] != true }
        var h = x
        for (b, fb) in zip(blocks, folded.blocks) {
            let a = try b.norm1.labForwardInference(h, batch: batch, tokens: tokens, padMask: padMask)
            let xs = try fb.pre1.preScale(h, batch: batch, tokens: tokens, padMask: padMask)
            for (u, f) in [
                (b.attention.query, fb.attention.query), (b.attention.key, fb.attention.key),
                (b.attention.value, fb.attention.value),
            ] {
                try tally.compare(fb.pre1, unfolded: u, folded: f, input: xs, normalized: a, rows: rows, real: real)
            }
            let att = try b.attention.forward(a, batch: batch, tokens: tokens, padMask: padMask, causal: causal).output
            let hh = zip(h, att).map(+)
            let n2 = try b.norm2.labForwardInference(hh, batch: batch, tokens: tokens, padMask: padMask)
            let hs = try fb.pre2.preScale(hh, batch: batch, tokens: tokens, padMask: padMask)
            try tally.compare(
                fb.pre2, unfolded: b.mlp.up, folded: fb.mlp.up, input: hs, normalized: n2, rows: rows, real: real)
            h = zip(hh, try b.mlp.forward(n2, rows: rows).output).map(+)
        }
        let out = try finalNorm.labForwardInference(h, batch: batch, tokens: tokens, padMask: padMask)
        return (try folded.finalNorm.preScale(h, batch: batch, tokens: tokens, padMask: padMask), out)
    }
}

/// The arg max of each row of `z` (`rows × classes`) and the gap between its two largest entries.
func argmaxAndMargin(_ z: [Double], classes: Int) -> [(index: Int, margin: Double)] {
    stride(from: 0, to: z.count, by: classes).map { s in
        var (best, second, index) = (-Double.infinity, -Double.infinity, 0)
        for j in 0..<classes {
            let v = z[s + j]
            if v > best {
                (second, best, index) = (best, v, j)
            } else if v > second {
                second = v
            }
        }
        return (index, best - second)
    }
}

/// Compares folded and unfolded logits (rows with `real[r]` only).
func compareLogits(
    folded f: [Double], unfolded u: [Double], classes: Int, real: [Bool], tally: FoldPointTally
) -> FoldCheck {
    var maxDiff = 0.0
    for i in f.indices where real[i / classes] { maxDiff = max(maxDiff, abs(f[i] - u[i])) }
    let pf = argmaxAndMargin(f, classes: classes)
    let pu = argmaxAndMargin(u, classes: classes)
    var differing = 0
    var margin: Double?
    for r in pu.indices where real[r] && pf[r].index != pu[r].index {
        differing += 1
        margin = max(margin ?? 0, pu[r].margin)
    }
    return FoldCheck(
        foldPoints: tally.points, entries: tally.entries, worstBoundRatio: tally.worst, maxLogitDifference: maxDiff,
        predictions: real.filter { $0 }.count, predictionsDiffering: differing, largestDifferingMargin: margin)
}

/// A ``VisionTransformer`` for inference with every norm folded into the linear layers after it.
public struct FoldedVisionTransformer<Norm: NormalizationLayer>: Sendable where Norm.Scalar == Double {
    let base: VisionTransformer<Norm>
    let encoder: FoldedTransformerEncoder
    let head: Dense

    /// - Throws: ``LabError/normalization(_:)`` (`notFoldable`) for LayerNorm or RMSNorm.
    public init(_ model: VisionTransformer<Norm>) throws {
        base = model
        encoder = try FoldedTransformerEncoder(model.encoder)
        head = try encoder.finalNorm.fold(into: model.head)
    }

    /// Logits `batch × classes`, as ``VisionTransformer/inference(images:batch:)`` up to rounding.
    /// - Throws: as ``VisionTransformer/inference(images:batch:)``.
    public func inference(images: [Double], batch: Int) throws -> [Double] {
        let x = try base.embed(images, batch: batch).tokens
        let h = try encoder.inference(x, batch: batch, tokens: VisionTransformer<Norm>.tokens, padMask: nil)
        return try head.forward(base.classRows(h, batch: batch), rows: batch)
    }

    /// The fold-point comparison and the predictions of both on `images` (`batch × 64`).
    /// - Throws: as ``inference(images:batch:)``.
    public func check(images: [Double], batch: Int) throws -> FoldCheck {
        let x = try base.embed(images, batch: batch).tokens
        var tally = FoldPointTally()
        let (hin, hout) = try base.encoder.foldPoints(
            x, batch: batch, tokens: VisionTransformer<Norm>.tokens, padMask: nil, folded: encoder, tally: &tally)
        let cin = base.classRows(hin, batch: batch)
        let cout = base.classRows(hout, batch: batch)
        let real = [Bool](repeating: true, count: batch)
        try tally.compare(
            encoder.finalNorm, unfolded: base.head, folded: head, input: cin, normalized: cout, rows: batch, real: real)
        return compareLogits(
            folded: try inference(images: images, batch: batch),
            unfolded: try base.inference(images: images, batch: batch),
            classes: base.classes, real: real, tally: tally)
    }
}

/// A ``ByteLanguageModel`` for inference with every norm folded into the linear layers after it.
public struct FoldedByteLanguageModel<Norm: NormalizationLayer>: Sendable where Norm.Scalar == Double {
    let base: ByteLanguageModel<Norm>
    let encoder: FoldedTransformerEncoder
    let head: Dense

    /// - Throws: ``LabError/normalization(_:)`` (`notFoldable`) for LayerNorm or RMSNorm.
    public init(_ model: ByteLanguageModel<Norm>) throws {
        base = model
        encoder = try FoldedTransformerEncoder(model.encoder)
        head = try encoder.finalNorm.fold(into: model.head)
    }

    /// Logits `B × T × vocabulary`, as ``ByteLanguageModel/inference(_:)`` up to rounding.
    /// - Throws: as ``ByteLanguageModel/inference(_:)``.
    public func inference(_ b: LanguageBatch) throws -> [Double] {
        let h = try encoder.inference(base.embed(b), batch: b.batch, tokens: b.tokens, padMask: b.padMask)
        return try head.forward(h, rows: b.batch * b.tokens)
    }

    /// The fold-point comparison and the next-token predictions of both at the real positions.
    /// - Throws: as ``inference(_:)``.
    public func check(_ b: LanguageBatch) throws -> FoldCheck {
        var tally = FoldPointTally()
        let (hin, hout) = try base.encoder.foldPoints(
            base.embed(b), batch: b.batch, tokens: b.tokens, padMask: b.padMask, folded: encoder, tally: &tally)
        let real = b.padMask.map { !$0 }
        try tally.compare(
            encoder.finalNorm, unfolded: base.head, folded: head, input: hin, normalized: hout,
            rows: b.batch * b.tokens, real: real)
        return compareLogits(
            folded: try inference(b), unfolded: try base.inference(b), classes: base.vocabulary, real: real,
            tally: tally)
    }
}

extension FoldCheck {
    /// Two checks of parts of one test set, combined.
    func merged(with o: FoldCheck) -> FoldCheck {
        FoldCheck(
            foldPoints: max(foldPoints, o.foldPoints), entries: entries + o.entries,
            worstBoundRatio: max(worstBoundRatio, o.worstBoundRatio),
            maxLogitDifference: max(maxLogitDifference, o.maxLogitDifference), predictions: predictions + o.predictions,
            predictionsDiffering: predictionsDiffering + o.predictionsDiffering,
            largestDifferingMargin: [largestDifferingMargin, o.largestDifferingMargin].compactMap { $0 }.max())
    }
}
