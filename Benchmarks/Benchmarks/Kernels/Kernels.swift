// ordo-one/benchmark suite of the same kernels as `unbench` (throughput, allocations,
// percentiles): `swift package benchmark` in this folder. The ratios to a memory copy come from
// `unbench`, which times both in one run.
import Benchmark
import GradientCheck
import UnifiedNormalization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2), maxIterations: 200)
    let (b, n, c) = (8, 197, 768)
    var rng = SeededGenerator(seed: 20_221_201)
    let values = (0..<(b * n * c)).map { _ in Float.random(in: -3...3, using: &rng) }
    let grads = (0..<(b * n * c)).map { _ in Float.random(in: -1...1, using: &rng) }
    guard let x = try? TokenBatch(batch: b, tokens: n, channels: c, values: values),
        let dy = try? TokenBatch(batch: b, tokens: n, channels: c, values: grads),
        let ln = try? LayerNorm<Float>(channels: c), let rms = try? RMSNorm<Float>(channels: c),
        var un = try? UnifiedNorm<Float>(
            configuration: UnifiedNormConfiguration(channels: c, warmupIters: 0), mode: .referenceCompatible)
    else { fatalError("benchmark setup failed") }
    for _ in 0..<8 { _ = try? un.forwardTraining(x) }
    let unInfer = un

    Benchmark("memcpy, one 8×197×768 Float tensor") { bench in
        var target = [Float](repeating: 0, count: values.count)
        for _ in bench.scaledIterations {
            target.withUnsafeMutableBytes { d in
                values.withUnsafeBytes { s in _ = memcpy(d.baseAddress!, s.baseAddress!, s.count) }
            }
            blackHole(target[0])
        }
    }
    Benchmark("LayerNorm forward, Float 8×197×768") { bench in
        for _ in bench.scaledIterations { blackHole(try ln.forwardInference(x)) }
    }
    Benchmark("RMSNorm forward, Float 8×197×768") { bench in
        for _ in bench.scaledIterations { blackHole(try rms.forwardInference(x)) }
    }
    Benchmark("UN inference map, Float 8×197×768") { bench in
        for _ in bench.scaledIterations { blackHole(try unInfer.forwardInference(x)) }
    }
    Benchmark("LayerNorm training forward + backward, Float 8×197×768") { bench in
        var layer = ln
        for _ in bench.scaledIterations {
            let (y, cache) = try layer.forwardTraining(x)
            blackHole(y)
            blackHole(try layer.backward(dy, cache: cache))
        }
    }
    Benchmark("UN training forward + backward, Float 8×197×768") { bench in
        var layer = un
        for _ in bench.scaledIterations {
            let (y, cache) = try layer.forwardTraining(x)
            blackHole(y)
            blackHole(try layer.backward(dy, cache: cache))
        }
    }
    // The `into:` forms: the caller's buffers reused, so the allocation count per iteration is 0 for
    // the tensors (what the malloc metric shows against the allocating rows above).
    Benchmark("LayerNorm forward into a reused buffer, Float 8×197×768") { bench in
        var out = try ln.forwardInference(x)
        for _ in bench.scaledIterations {
            try ln.forwardInference(x, into: &out)
            blackHole(out.values[0])
        }
    }
    Benchmark("LayerNorm training forward + backward into reused buffers, Float 8×197×768") { bench in
        var layer = ln
        var out = try ln.forwardInference(x)
        var g = NormGradients(input: try ln.forwardInference(dy), weight: [], bias: [])
        for _ in bench.scaledIterations {
            let cache = try layer.forwardTraining(x, into: &out)
            try layer.backward(dy, cache: cache, into: &g)
            blackHole(g.input.values[0])
        }
    }
    Benchmark("UN training forward + backward into reused buffers, Float 8×197×768") { bench in
        var layer = un
        var out = try unInfer.forwardInference(x)
        var g = NormGradients(input: try unInfer.forwardInference(dy), weight: [], bias: [])
        for _ in bench.scaledIterations {
            let cache = try layer.forwardTraining(x, into: &out)
            try layer.backward(dy, cache: cache, into: &g)
            blackHole(g.input.values[0])
        }
    }
}
