import GradientCheck
import UnifiedNormalization

// Side-by-side ratios, measured in one run (see ../README.md "Benchmarks"): every kernel is timed
// against a memory copy of the same tensor in the same process, round after round, so that the
// ratio does not depend on the machine's speed or load; the spread over rounds is its noise.
//
//   swift run -c release unbench [--rounds N] [--json PATH]
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Median wall time of `reps` calls of `body`, after one warm-up call.
func time(reps: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var ts: [Double] = []
    for _ in 0..<reps {
        let t0 = now()
        try body()
        ts.append(now() - t0)
    }
    ts.sort()
    return ts[ts.count / 2]
}

@main
enum UNBench {
    nonisolated static func main() throws {
        var rounds = 7
        var jsonPath: String?
        var only: String?
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--rounds": rounds = Int(it.next() ?? "") ?? rounds
            case "--json": jsonPath = it.next()
            case "--only": only = it.next()
            default:
                print("usage: unbench [--rounds N] [--json PATH] [--only SUBSTRING]")
                exit(2)
            }
        }

        // The workload: a ViT-B activation, 8 images × 197 tokens × 768 channels, Float.
        let (b, n, c) = (8, 197, 768)
        var rng = SeededGenerator(seed: 20_221_201)
        let values = (0..<(b * n * c)).map { _ in Float.random(in: -3...3, using: &rng) }
        let grads = (0..<(b * n * c)).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = try TokenBatch(batch: b, tokens: n, channels: c, values: values)
        let dy = try TokenBatch(batch: b, tokens: n, channels: c, values: grads)
        var copyTarget = [Float](repeating: 0, count: values.count)

        func memoryCopy() {
            copyTarget.withUnsafeMutableBytes { d in
                values.withUnsafeBytes { s in _ = memcpy(d.baseAddress!, s.baseAddress!, s.count) }
            }
        }

        let layerNorm = try LayerNorm<Float>(channels: c)
        let rmsNorm = try RMSNorm<Float>(channels: c)
        var unTrain = try UnifiedNorm<Float>(
            configuration: UnifiedNormConfiguration(channels: c, warmupIters: 0), mode: .referenceCompatible)
        // A layer after some training steps, so that inference uses real running statistics.
        for _ in 0..<8 { _ = try unTrain.forwardTraining(x) }
        let unInfer = unTrain
        var lnTrain = layerNorm
        var rmsTrain = rmsNorm
        var sink: Float = 0
        // Buffers a client keeps across calls for the `into:` forms (no allocation per call).
        var yOut = x
        var gradients = NormGradients(input: x, weight: [], bias: [])
        var yOut2 = x

        /// A measured operation: `tensors` is the nominal number of tensor passes (reads + writes) it
        /// must make at the least; a memory copy makes 2 (one read, one write).
        struct Case {
            var name: String
            var tensors: Double
            var body: () throws -> Void
        }
        let cases: [Case] = [
            Case(name: "LayerNorm forward (inference)", tensors: 2) {
                sink += try layerNorm.forwardInference(x).values[0]
            },
            Case(name: "RMSNorm forward (inference)", tensors: 2) {
                sink += try rmsNorm.forwardInference(x).values[0]
            },
            Case(name: "UN inference map (per-channel affine)", tensors: 2) {
                sink += try unInfer.forwardInference(x).values[0]
            },
            Case(name: "LayerNorm forward (inference), output reused", tensors: 2) {
                try layerNorm.forwardInference(x, into: &yOut)
                sink += yOut.values[0]
            },
            Case(name: "RMSNorm forward (inference), output reused", tensors: 2) {
                try rmsNorm.forwardInference(x, into: &yOut2)
                sink += yOut2.values[0]
            },
            Case(name: "LayerNorm training forward + backward, buffers reused", tensors: 5) {
                let cache = try lnTrain.forwardTraining(x, into: &yOut)
                try lnTrain.backward(dy, cache: cache, into: &gradients)
                sink += yOut.values[0] + gradients.input.values[0]
            },
            Case(name: "RMSNorm training forward + backward, buffers reused", tensors: 5) {
                let cache = try rmsTrain.forwardTraining(x, into: &yOut2)
                try rmsTrain.backward(dy, cache: cache, into: &gradients)
                sink += yOut2.values[0] + gradients.input.values[0]
            },
            Case(name: "UN inference map (per-channel affine), output reused", tensors: 2) {
                try unInfer.forwardInference(x, into: &yOut)
                sink += yOut.values[0]
            },
            Case(name: "UN training forward + backward, buffers reused", tensors: 5) {
                let cache = try unTrain.forwardTraining(x, into: &yOut2)
                try unTrain.backward(dy, cache: cache, into: &gradients)
                sink += yOut2.values[0] + gradients.input.values[0]
            },
            Case(name: "LayerNorm training forward + backward", tensors: 5) {
                let (y, cache) = try lnTrain.forwardTraining(x)
                sink += try y.values[0] + lnTrain.backward(dy, cache: cache).input.values[0]
            },
            Case(name: "UN training forward + backward", tensors: 5) {
                let (y, cache) = try unTrain.forwardTraining(x)
                sink += try y.values[0] + unTrain.backward(dy, cache: cache).input.values[0]
            },
        ]

        print("workload: Float, \(b)×\(n)×\(c) (\(values.count * 4 / 1_000_000) MB per tensor); \(rounds) rounds,")
        print(
            "each the median of 5 calls; ratio = (nominal bytes / time) ÷ (memcpy bytes / time), memcpy timed in the same round"
        )
        print("")
        print(
            "| operation | nominal tensor passes | time per call (ms, median) | ratio to memcpy: median | min | max |")
        print("|---|---|---|---|---|---|")
        var json: [String] = []
        for k in cases where only.map({ k.name.contains($0) }) ?? true {
            var ratios: [Double] = []
            var times: [Double] = []
            for _ in 0..<rounds {
                let tc = time(reps: 5, memoryCopy)
                let to = try time(reps: 5, k.body)
                ratios.append((k.tensors / 2) * tc / to)
                times.append(to)
            }
            ratios.sort()
            times.sort()
            let med = ratios[ratios.count / 2]
            print(
                "| \(k.name) | \(Int(k.tensors)) | \(fmt(times[times.count / 2] * 1e3)) | \(fmt(med)) | \(fmt(ratios.first!)) | \(fmt(ratios.last!)) |"
            )
            json.append(
                "{\"name\": \"\(k.name)\", \"tensors\": \(k.tensors), \"medianSeconds\": \(times[times.count / 2]), \"ratio\": {\"median\": \(med), \"min\": \(ratios.first!), \"max\": \(ratios.last!)}}"
            )
        }

        if let only, !"checker".contains(only) { return }
        // The checker: the full 256 × 256 Jacobian of LayerNorm over 4 tokens × 64 channels, Double.
        let ln4 = try LayerNorm<Double>(channels: 64)
        var g2 = SeededGenerator(seed: 1)
        let x4 = (0..<256).map { _ in Double.random(in: -2...2, using: &g2) }
        func lnValues(_ v: [Double]) throws -> [Double] {
            try ln4.forwardInference(TokenBatch(batch: 1, tokens: 4, channels: 64, values: v)).values
        }
        func lnJacobian(_ v: [Double]) -> [[Double]] {
            var j = [[Double]](repeating: [Double](repeating: 0, count: 256), count: 256)
            for t in 0..<4 {
                let s = Array(v[(t * 64)..<(t * 64 + 64)])
                let m = s.reduce(0, +) / 64
                let va = s.reduce(0) { $0 + ($1 - m) * ($1 - m) } / 64
                let r = 1 / (va + 1e-5).squareRoot()
                let z = s.map { ($0 - m) * r }
                for a in 0..<64 {
                    for bb in 0..<64 {
                        j[t * 64 + a][t * 64 + bb] = r * ((a == bb ? 1 : 0) - 1.0 / 64 - z[a] * z[bb] / 64)
                    }
                }
            }
            return j
        }
        let jac = lnJacobian(x4)
        print("")
        print("| checker | time (s, median of 5) | evaluations | outcome |")
        print("|---|---|---|---|")
        // The same LayerNorm written as a closure that shares no array with other threads (the
        // layer above shares its weight arrays, whose reference counts every call touches).
        func lnPlain(_ v: [Double]) -> [Double] {
            var y = [Double](repeating: 0, count: v.count)
            for t in 0..<4 {
                var m = 0.0
                for c in 0..<64 { m += v[t * 64 + c] }
                m /= 64
                var va = 0.0
                for c in 0..<64 { va += (v[t * 64 + c] - m) * (v[t * 64 + c] - m) }
                let r = 1 / (va / 64 + 1e-5).squareRoot()
                for c in 0..<64 { y[t * 64 + c] = (v[t * 64 + c] - m) * r }
            }
            return y
        }
        for (label, fn) in [("LayerNorm<Double> layer", lnValues), ("self-contained closure", lnPlain)]
            as [(String, ([Double]) throws -> [Double])]
        {
            for threads in [1, 2] {
                var checker = GradientChecker()
                checker.size = .full
                checker.concurrentColumns = threads
                var outcome = ""
                var evaluations = 0
                let tcheck = try time(reps: 5) {
                    let r = try checker.checkJacobian(of: fn, at: x4, jacobian: jac)
                    outcome = "\(r.outcome)"
                    evaluations = r.evaluations
                }
                let name =
                    "LayerNorm 4×64 full Jacobian check (256 × 256), Double, \(label), concurrentColumns \(threads)"
                print("| \(name) | \(fmt(tcheck)) | \(evaluations) | \(outcome) |")
                json.append(
                    "{\"name\": \"\(name)\", \"medianSeconds\": \(tcheck), \"evaluations\": \(evaluations), "
                        + "\"outcome\": \"\(outcome)\"}")
            }
        }
        if sink.isNaN { print("") }

        if let p = jsonPath {
            let text =
                "{\"schemaVersion\": 1, \"workload\": [\(b), \(n), \(c)], \"results\": [\n  "
                + json.joined(separator: ",\n  ") + "\n]}\n"
            guard let f = fopen(p, "w") else {
                print("cannot write \(p)")
                exit(1)
            }
            fputs(text, f)
            fclose(f)
        }

    }
}

func fmt(_ v: Double) -> String {
    // Three significant digits, fixed-point (these are times and ratios, never huge).
    guard v.isFinite, v > 0 else { return "\(v)" }
    var digits = 2
    var t = v
    while t < 100 && digits < 12 {
        t *= 10
        digits += 1
    }
    digits = max(digits - 2, 0)
    let p = (0..<digits).reduce(1.0) { a, _ in a * 10 }
    return String((v * p).rounded() / p)
}
