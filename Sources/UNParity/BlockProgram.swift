/// The block's parameters, drawn from a seed: linear weights `U(−1, 1)·√(3/fan-in)` (unit-variance
/// outputs), biases `U(−0.1, 0.1)`, LayerNorm's γ near 1 and β near 0, UN's running variances in
/// [0.5, 2] with their own γ, β. The folded weights are computed from the unfolded ones in Double
/// and rounded once to Float (spec F1: `W' = W·diag(a)`, `b' = W·b + c`).
public struct BlockParameters: Sendable {
    public var shape: BlockShape
    public var weights: [BlockLinear: [Float]] = [:]
    public var biases: [BlockLinear: [Float]] = [:]
    /// Per normalization (0, 1): LayerNorm's γ and β.
    public var layerNormGamma: [[Float]] = [], layerNormBeta: [[Float]] = []
    /// Per normalization: UN's inference map `a = γ/√(running variance + ε)`, `b = β`.
    public var unScale: [[Float]] = [], unShift: [[Float]] = []
    /// The qkv and fc1 layers with UN folded in.
    public var foldedWeights: [BlockLinear: [Float]] = [:]
    public var foldedBiases: [BlockLinear: [Float]] = [:]
    public static let eps: Float = 1e-5

    public init(shape s: BlockShape, seed: UInt64 = 2022) {
        shape = s
        var g = ParityRunner.Inputs(state: seed)
        func u(_ lo: Double, _ hi: Double) -> Float { Float(lo + (hi - lo) * g.next()) }
        for l in BlockLinear.allCases {
            let (i, o) = (l.inputs(s), l.outputs(s))
            let r = (3 / Double(i)).squareRoot()
            weights[l] = (0..<(i * o)).map { _ in u(-r, r) }
            biases[l] = (0..<o).map { _ in u(-0.1, 0.1) }
        }
        for _ in 0..<2 {
            layerNormGamma.append((0..<s.width).map { _ in u(0.8, 1.2) })
            layerNormBeta.append((0..<s.width).map { _ in u(-0.1, 0.1) })
            let variance = (0..<s.width).map { _ in Double(u(0.5, 2)) }
            let gamma = (0..<s.width).map { _ in Double(u(0.8, 1.2)) }
            unScale.append(zip(gamma, variance).map { Float($0 / ($1 + Double(Self.eps)).squareRoot()) })
            unShift.append((0..<s.width).map { _ in u(-0.1, 0.1) })
        }
        for (l, idx) in [(BlockLinear.qkv, 0), (.fc1, 1)] {
            let (i, o) = (l.inputs(s), l.outputs(s))
            let w = weights[l]!
            let a = unScale[idx].map(Double.init)
            let b = unShift[idx].map(Double.init)
            foldedWeights[l] = (0..<(o * i)).map { Float(Double(w[$0]) * a[$0 % i]) }
            foldedBiases[l] = (0..<o).map { r in
                Float((0..<i).reduce(Double(biases[l]![r])) { $0 + Double(w[r * i + $1]) * b[$1] })
            }
        }
    }

    /// The seeded input batch, `U(−2, 2)`.
    public func input(seed: UInt64 = 7) -> [Float] {
        var g = ParityRunner.Inputs(state: seed)
        return (0..<(shape.rows * shape.width)).map { _ in Float(-2 + 4 * g.next()) }
    }
}

/// One block schedule resident on a device: its parameters and activations allocated and uploaded
/// once, so that `enqueue()` measures only the forward pass. Call `release()` when done.
public final class BlockProgram {
    public let device: any BlockDevice
    public let normalization: BlockNormalization
    public let shape: BlockShape
    var tensors: [BlockTensor: DeviceBuffer] = [:]
    var weights: [BlockLinear: (DeviceBuffer, DeviceBuffer)] = [:]
    var norms: [(DeviceBuffer, DeviceBuffer)] = []
    var all: [DeviceBuffer] = []
    /// Device bytes the allocation took by the device's own count (free memory before − after),
    /// where the device reports it.
    public private(set) var measuredDeviceBytes: Int?

    /// - Throws: `BackendError` from the device (out of memory, a refused size).
    public init(_ device: any BlockDevice, _ n: BlockNormalization, _ p: BlockParameters, input: [Float]) throws {
        self.device = device
        normalization = n
        shape = p.shape
        try shape.validate()
        guard input.count == shape.rows * shape.width else {
            throw BackendError("block", "input of \(input.count) values for \(shape.rows) × \(shape.width)")
        }
        try device.synchronize()
        let before = device.memoryInfo()
        do {
            func put(_ v: [Float]) throws -> DeviceBuffer {
                let b = try device.allocate(count: v.count)
                all.append(b)
                try device.upload(v, to: b)
                return b
            }
            for l in BlockLinear.allCases {
                let folded = n == .unFolded && p.foldedWeights[l] != nil
                weights[l] = (
                    try put(folded ? p.foldedWeights[l]! : p.weights[l]!),
                    try put(folded ? p.foldedBiases[l]! : p.biases[l]!)
                )
            }
            switch n {
            case .layerNorm: norms = try (0..<2).map { (try put(p.layerNormGamma[$0]), try put(p.layerNormBeta[$0])) }
            case .unMap: norms = try (0..<2).map { (try put(p.unScale[$0]), try put(p.unShift[$0])) }
            case .unFolded: break
            }
            for t in BlockSchedule.tensors(n) {
                let b = try device.allocate(count: t.count(shape))
                all.append(b)
                tensors[t] = b
            }
            try device.upload(input, to: tensors[.input]!)
            try device.synchronize()
        } catch {
            release()
            throw error
        }
        if let before, let after = device.memoryInfo() { measuredDeviceBytes = before.free - after.free }
    }

    public func release() {
        all.forEach { device.release($0) }
        all = []
        tensors = [:]
    }

    /// Queues one forward pass (call the device's `synchronize()` to wait for it).
    public func enqueue() throws {
        let s = shape
        let (t, d, bh) = (s.tokens, s.headDim, s.batch * s.heads)
        func buf(_ x: BlockTensor) throws -> DeviceBuffer {
            guard let b = tensors[x] else { throw BackendError("block", "\(x) is not allocated (released?)") }
            return b
        }
        for step in BlockSchedule.steps(normalization) {
            switch step {
            case .layerNorm(let x, let y, let i):
                try device.layerNorm(
                    x: buf(x), gamma: norms[i].0, beta: norms[i].1, y: buf(y), rows: s.rows, channels: s.width,
                    eps: BlockParameters.eps)
            case .unMap(let x, let y, let i):
                try device.affine(
                    x: buf(x), scale: norms[i].0, shift: norms[i].1, y: buf(y), channels: s.width,
                    count: s.rows * s.width)
            case .linear(let x, let l, let y, let gelu, let r):
                let (w, b) = weights[l]!
                try device.gemm(
                    BlockGEMM(
                        a: buf(x), b: w, c: buf(y), m: s.rows, n: l.outputs(s), k: l.inputs(s), transposeB: true,
                        epilogue: .init(bias: b, gelu: gelu, residual: try r.map(buf))))
            case .splitHeads:
                try device.splitHeads(
                    qkv: buf(.qkv), q: buf(.queries), k: buf(.keys), v: buf(.values), batch: s.batch, tokens: t,
                    heads: s.heads, dim: d)
            case .scores:
                try device.gemm(
                    BlockGEMM(
                        a: buf(.queries), b: buf(.keys), c: buf(.scores), m: t, n: t, k: d, transposeB: true,
                        batch: bh, strideA: t * d, strideB: t * d, strideC: t * t,
                        alpha: Float(1 / Double(d).squareRoot())))
            case .softmax:
                try device.softmax(buf(.scores), rows: bh * t, cols: t)
            case .attend:
                try device.gemm(
                    BlockGEMM(
                        a: buf(.scores), b: buf(.values), c: buf(.context), m: t, n: d, k: t, transposeB: false,
                        batch: bh, strideA: t * t, strideB: t * d, strideC: t * d))
            case .mergeHeads:
                try device.mergeHeads(
                    o: buf(.context), y: buf(.merged), batch: s.batch, tokens: t, heads: s.heads, dim: d)
            }
        }
    }

    /// Runs one forward pass and returns the block's output (`rows × width`).
    public func run() throws -> [Float] {
        try enqueue()
        try device.synchronize()
        return try device.download(tensors[.output]!)
    }
}
