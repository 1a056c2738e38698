/// The shape of one pre-norm Transformer block (ViT-B/16 at 224²: 197 tokens, width 768, 12 heads,
/// MLP ratio 4; Dosovitskiy et al., arXiv 2010.11929, Table 1).
public struct BlockShape: Codable, Sendable, Hashable {
    public var batch: Int
    public var tokens: Int
    public var width: Int
    public var heads: Int
    public var mlpRatio: Int

    public init(batch: Int, tokens: Int = 197, width: Int = 768, heads: Int = 12, mlpRatio: Int = 4) {
        self.batch = batch
        self.tokens = tokens
        self.width = width
        self.heads = heads
        self.mlpRatio = mlpRatio
    }

    /// ViT-B's block at the given batch.
    public static func vitBase(batch: Int) -> BlockShape { BlockShape(batch: batch) }

    public var rows: Int { batch * tokens }
    public var headDim: Int { width / heads }
    public var hidden: Int { width * mlpRatio }

    /// - Throws: `BackendError` for a non-positive size, a width the heads do not divide, or a
    ///   tensor beyond the kernels' 32-bit index.
    public func validate() throws {
        guard batch > 0, tokens > 0, width > 0, heads > 0, mlpRatio > 0 else {
            throw BackendError("block", "every size must be positive: \(self)")
        }
        guard width % heads == 0 else {
            throw BackendError("block", "width \(width) is not a multiple of \(heads) heads")
        }
        let (big, o1) = rows.multipliedReportingOverflow(by: max(3 * width, hidden))
        let (att, o2) = (batch * heads).multipliedReportingOverflow(by: tokens * tokens)
        guard !o1, !o2, big <= Int(Int32.max), att <= Int(Int32.max) else {
            throw BackendError("block", "tensors of this shape exceed the kernels' 32-bit index")
        }
    }
}

/// Where the block's two normalizations come from.
public enum BlockNormalization: String, Codable, Sendable, CaseIterable {
    /// LayerNorm before attention and before the MLP: statistics per token at run time.
    case layerNorm
    /// UN's inference map (`y = a ⊙ x + b`, fixed running statistics) as its own kernel.
    case unMap
    /// UN folded into the linear layers that follow it (`W' = W·diag(a)`, `b' = W·b + c`, spec F1):
    /// no normalization kernel and no normalized activation at all.
    case unFolded
}

/// The block's activations, by name.
public enum BlockTensor: String, Codable, Sendable, CaseIterable {
    case input, normalized1, qkv, queries, keys, values, scores, context, merged, residual1, normalized2, hidden,
        output

    /// Values in the tensor.
    public func count(_ s: BlockShape) -> Int {
        switch self {
        case .qkv: return s.rows * 3 * s.width
        case .scores: return s.batch * s.heads * s.tokens * s.tokens
        case .hidden: return s.rows * s.hidden
        default: return s.rows * s.width
        }
    }
}

/// The block's linear layers.
public enum BlockLinear: String, Codable, Sendable, CaseIterable {
    case qkv, projection, fc1, fc2
    func inputs(_ s: BlockShape) -> Int { self == .fc2 ? s.hidden : s.width }
    func outputs(_ s: BlockShape) -> Int {
        switch self {
        case .qkv: return 3 * s.width
        case .projection, .fc2: return s.width
        case .fc1: return s.hidden
        }
    }
}

/// One step of the block's inference.
public enum BlockStep: Sendable, Equatable {
    /// Normalization `index` (0 before attention, 1 before the MLP).
    case layerNorm(BlockTensor, BlockTensor, index: Int)
    case unMap(BlockTensor, BlockTensor, index: Int)
    case linear(BlockTensor, BlockLinear, BlockTensor, gelu: Bool, residual: BlockTensor?)
    case splitHeads
    /// `scores = queries·keysᵀ / √d` per (batch, head).
    case scores
    case softmax
    /// `context = softmax(scores)·values` per (batch, head).
    case attend
    case mergeHeads

    public var reads: [BlockTensor] {
        switch self {
        case .layerNorm(let x, _, _), .unMap(let x, _, _): return [x]
        case .linear(let x, _, _, _, let r): return [x] + (r.map { [$0] } ?? [])
        case .splitHeads: return [.qkv]
        case .scores: return [.queries, .keys]
        case .softmax: return [.scores]
        case .attend: return [.scores, .values]
        case .mergeHeads: return [.context]
        }
    }
    public var writes: [BlockTensor] {
        switch self {
        case .layerNorm(_, let y, _), .unMap(_, let y, _), .linear(_, _, let y, _, _): return [y]
        case .splitHeads: return [.queries, .keys, .values]
        case .scores, .softmax: return [.scores]
        case .attend: return [.context]
        case .mergeHeads: return [.merged]
        }
    }
}

/// The pre-norm block `x₁ = x + Attn(N₁(x))`, `y = x₁ + MLP(N₂(x₁))` as a list of steps, and
/// what it keeps in memory.
public enum BlockSchedule {
    public static func steps(_ n: BlockNormalization) -> [BlockStep] {
        func norm(_ x: BlockTensor, _ y: BlockTensor, _ i: Int) -> [BlockStep] {
            switch n {
            case .layerNorm: return [.layerNorm(x, y, index: i)]
            case .unMap: return [.unMap(x, y, index: i)]
            case .unFolded: return []
            }
        }
        let in1: BlockTensor = n == .unFolded ? .input : .normalized1
        let in2: BlockTensor = n == .unFolded ? .residual1 : .normalized2
        return norm(.input, .normalized1, 0) + [
            .linear(in1, .qkv, .qkv, gelu: false, residual: nil), .splitHeads, .scores, .softmax, .attend,
            .mergeHeads, .linear(.merged, .projection, .residual1, gelu: false, residual: .input),
        ] + norm(.residual1, .normalized2, 1) + [
            .linear(in2, .fc1, .hidden, gelu: true, residual: nil),
            .linear(.hidden, .fc2, .output, gelu: false, residual: .residual1),
        ]
    }

    /// The activations the schedule touches.
    public static func tensors(_ n: BlockNormalization) -> [BlockTensor] {
        let used = Set(steps(n).flatMap { $0.reads + $0.writes })
        return BlockTensor.allCases.filter { used.contains($0) }
    }

    /// Bytes of every activation the schedule touches (all of them allocated, as `BlockProgram` does).
    public static func activationBytes(_ n: BlockNormalization, _ s: BlockShape) -> Int {
        tensors(n).reduce(0) { $0 + $1.count(s) * 4 }
    }

    /// The most activation bytes alive at once when each tensor lives from the step that writes
    /// it first to the step that reads it last (the input from the start, the output to the end):
    /// what an allocator that frees at last use, like PyTorch's under `no_grad`, needs at peak.
    public static func peakLiveBytes(_ n: BlockNormalization, _ s: BlockShape) -> Int {
        let st = steps(n)
        var first: [BlockTensor: Int] = [.input: 0]
        var last: [BlockTensor: Int] = [.output: st.count - 1]
        for (i, step) in st.enumerated() {
            for t in step.writes where first[t] == nil { first[t] = i }
            for t in step.reads + step.writes { last[t] = max(last[t] ?? i, i) }
        }
        return st.indices.map { i in
            first.keys.filter { first[$0]! <= i && i <= last[$0]! }.reduce(0) { $0 + $1.count(s) * 4 }
        }.max() ?? 0
    }

    /// Bytes of the parameters the schedule reads: the four linear layers, plus two (γ, β) or
    /// (a, b) vectors per normalization where it is not folded.
    public static func parameterBytes(_ n: BlockNormalization, _ s: BlockShape) -> Int {
        let linear = BlockLinear.allCases.reduce(0) { $0 + ($1.inputs(s) + 1) * $1.outputs(s) }
        return 4 * (linear + (n == .unFolded ? 0 : 4 * s.width))
    }

    /// Kernel launches per forward pass on a kernel device (linear layers through `block_gemm`).
    public static func launches(_ n: BlockNormalization) -> Int { steps(n).count }

    /// Device calls per forward pass: with a vendor GEMM each linear layer is a library call and
    /// an epilogue kernel (its bias, GELU, residual), the attention products library calls alone.
    public static func calls(_ n: BlockNormalization, gemmPath: String) -> Int {
        let linear = steps(n).filter { if case .linear = $0 { return true } else { return false } }.count
        return steps(n).count + (gemmPath == "kernel" ? 0 : linear)
    }
}
