import Foundation
import GradientCheck
import GradientCheckTesting
import Testing

@testable import UNLab

/// Each new layer's backward against the project's finite-difference checker (Double, full mode).
/// Every check is of `x ↦ ⟨dy, layer(x)⟩` for a random `dy`, whose gradient is what the backward
/// pass computes from `dy`; the verdict is the checker's own (no tolerance is chosen here).
@Suite("UNLab layer gradients")
struct LayerGradientTests {
    @Test("Dense: input, weight and bias gradients")
    func dense() throws {
        var data = TestData(seed: 1)
        var rng = LabRandom(seed: 2)
        let layer = try Dense(inputs: 3, outputs: 5, using: &rng)
        let x = data.normals(4 * 3)
        let dy = data.normals(4 * 5)
        let g = try layer.backward(dy, input: x, rows: 4)
        let c = fullChecker()
        expectPasses(try c.checkGradient(of: { try dot(dy, layer.forward($0, rows: 4)) }, at: x, gradient: g.input))
        expectPasses(
            try c.checkGradient(
                of: { w in try dot(dy, Dense(inputs: 3, outputs: 5, weight: w, bias: layer.bias).forward(x, rows: 4)) },
                at: layer.weight, gradient: g.weight))
        expectPasses(
            try c.checkGradient(
                of: { b in try dot(dy, Dense(inputs: 3, outputs: 5, weight: layer.weight, bias: b).forward(x, rows: 4))
                },
                at: data.normals(5), gradient: g.bias))
    }

    @Test("GELU (erf form) and the d → 4d → d MLP")
    func feedForward() throws {
        var data = TestData(seed: 3)
        // GELU across its curved region and both tails (|x| up to about 6).
        let x = data.normals(40, scale: 2)
        let dy = data.normals(40)
        let c = fullChecker()
        expectPasses(
            try c.checkGradient(
                of: { dot(dy, GELU.forward($0)) }, at: x, gradient: try GELU.backward(dy, input: x)))
        var rng = LabRandom(seed: 4)
        let mlp = try FeedForward(width: 3, using: &rng)
        let xm = data.normals(2 * 3)
        let dym = data.normals(2 * 3)
        let (_, cache) = try mlp.forward(xm, rows: 2)
        let g = try mlp.backward(dym, cache: cache)
        expectPasses(
            try c.checkGradient(of: { try dot(dym, mlp.forward($0, rows: 2).output) }, at: xm, gradient: g.input))
        expectPasses(
            try c.checkGradient(
                of: { w in
                    var m = mlp
                    try m.up.setParameters(weight: w, bias: m.up.bias)
                    return try dot(dym, m.forward(xm, rows: 2).output)
                }, at: mlp.up.weight, gradient: g.up.weight))
        expectPasses(
            try c.checkGradient(
                of: { w in
                    var m = mlp
                    try m.down.setParameters(weight: w, bias: m.down.bias)
                    return try dot(dym, m.forward(xm, rows: 2).output)
                }, at: mlp.down.weight, gradient: g.down.weight))
    }

    /// Attention on 2 sequences of 4 tokens, width 4, 2 heads; each projection's weight and bias.
    func checkAttention(padMask: [Bool]?, causal: Bool, planted: Double = 0) throws -> [CheckResult] {
        var data = TestData(seed: 5)
        var rng = LabRandom(seed: 6)
        var att = try MultiHeadAttention(width: 4, heads: 2, using: &rng)
        att.plantedScoreGradientError = planted
        // Non-zero biases so that their gradients are exercised at a generic point.
        try att.query.setParameters(weight: att.query.weight, bias: data.normals(4, scale: 0.3))
        try att.key.setParameters(weight: att.key.weight, bias: data.normals(4, scale: 0.3))
        let x = data.normals(2 * 4 * 4)
        let dy = data.normals(2 * 4 * 4)
        let (_, cache) = try att.forward(x, batch: 2, tokens: 4, padMask: padMask, causal: causal)
        let g = try att.backward(dy, cache: cache)
        let c = fullChecker()
        func loss(_ a: MultiHeadAttention, _ input: [Double]) throws -> Double {
            try dot(dy, a.forward(input, batch: 2, tokens: 4, padMask: padMask, causal: causal).output)
        }
        var results = [try c.checkGradient(of: { try loss(att, $0) }, at: x, gradient: g.input)]
        let projections: [(WritableKeyPath<MultiHeadAttention, Dense>, Dense.Gradients)] = [
            (\.query, g.query), (\.key, g.key), (\.value, g.value), (\.output, g.output),
        ]
        // Per channel, Σ_rows |∂L/∂K| : the terms whose sum, exactly 0, is the key bias gradient.
        let keyTerms = (0..<4).map { c in
            stride(from: c, to: g.keyGradient.count, by: 4).reduce(0.0) {
                $0 + abs(g.keyGradient[$1])
            }
        }
        for (path, pg) in projections {
            results.append(
                try c.checkGradient(
                    of: { w in
                        var a = att
                        try a[keyPath: path].setParameters(weight: w, bias: a[keyPath: path].bias)
                        return try loss(a, x)
                    }, at: att[keyPath: path].weight, gradient: pg.weight))
            results.append(
                try c.checkGradient(
                    of: { b in
                        var a = att
                        try a[keyPath: path].setParameters(weight: a[keyPath: path].weight, bias: b)
                        return try loss(a, x)
                    }, at: att[keyPath: path].bias, gradient: pg.bias, termMagnitudes: path == \.key ? keyTerms : nil))
        }
        return results
    }

    static let padding = [false, false, false, true, false, false, true, true]

    @Test(
        "Attention: no mask, key padding, causal, causal with key padding",
        arguments: [
            (false, false), (true, false), (false, true), (true, true),
        ])
    func attention(padded: Bool, causal: Bool) throws {
        for r in try checkAttention(padMask: padded ? Self.padding : nil, causal: causal) {
            expectPasses(r, "attention, padded \(padded), causal \(causal)")
        }
    }

    /// A relative error planted in head 0's score gradient `∂L/∂S` (which feeds ∂L/∂x, W_q and W_k,
    /// not W_v or W_o): the checker must report mismatches there, and passes elsewhere. 1e-6 is the
    /// relative error a Double pass promises to catch (the checker's default resolution).
    @Test("A planted error in the attention backward is caught", arguments: [1e-3, 1e-6])
    func plantedAttentionError(planted: Double) throws {
        let results = try checkAttention(padMask: Self.padding, causal: true, planted: planted)
        // ∂L/∂x and the Q and K projections' gradients go through ∂L/∂S; V and O do not.
        #expect(results[0].failed, "∂L/∂x: \(results[0])")
        #expect(results[1].failed && results[3].failed, "W_q, W_k")
        #expect(results[5].passed && results[7].passed, "W_v, W_o are not affected by ∂L/∂S")
        let clean = try checkAttention(padMask: Self.padding, causal: true)
        #expect(clean.allSatisfy { $0.passed })
    }

    @Test("Position and token embeddings")
    func embeddings() throws {
        var data = TestData(seed: 7)
        var rng = LabRandom(seed: 8)
        let pos = try PositionEmbedding(positions: 5, width: 3, using: &rng)
        let x0 = data.normals(2 * 4 * 3)
        let dy = data.normals(2 * 4 * 3)
        let c = fullChecker()
        expectPasses(
            try c.checkGradient(
                of: { t in
                    var p = pos
                    try p.set(t)
                    var x = x0
                    try p.add(to: &x, batch: 2, tokens: 4)
                    return dot(dy, x)
                }, at: pos.table, gradient: pos.gradient(dy, batch: 2, tokens: 4)))
        let emb = try TokenEmbedding(vocabulary: 4, width: 3, using: &rng)
        let ids = [0, 2, 2, 3, 1, 2, 0, 0]  // repeated ids: the scatter-add must accumulate
        expectPasses(
            try c.checkGradient(
                of: { t in
                    var e = emb
                    try e.set(t)
                    return try dot(dy, e.lookup(ids))
                }, at: emb.table, gradient: emb.gradient(dy, ids: ids)))
    }

    @Test("Cross-entropy, mean over real targets (padded rows ignored)")
    func crossEntropy() throws {
        var data = TestData(seed: 9)
        let logits = data.normals(5 * 4, scale: 2)
        let targets = [1, 0, 3, 2, 2]
        let ignore = [false, true, false, false, true]
        let (loss, g) = try CrossEntropy.loss(logits: logits, classes: 4, targets: targets, ignore: ignore)
        expectPasses(
            try fullChecker().checkGradient(
                of: { try CrossEntropy.loss(logits: $0, classes: 4, targets: targets, ignore: ignore).loss },
                at: logits, gradient: g))
        // Ignored rows get no gradient, and the loss is the mean over the 3 real rows.
        #expect(g[4..<8].allSatisfy { $0 == 0 } && g[16..<20].allSatisfy { $0 == 0 })
        let rowLoss = { (r: Int) -> Double in
            let row = logits[(r * 4)..<(r * 4 + 4)]
            return Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +)) - logits[r * 4 + targets[r]]
        }
        // Direct evaluation of 3 log-sum-exps of 4 terms: a few units of rounding (|loss| ~ 1).
        #expect(abs(loss - (rowLoss(0) + rowLoss(2) + rowLoss(3)) / 3) <= 32 * Double.ulpOfOne)
    }
}
