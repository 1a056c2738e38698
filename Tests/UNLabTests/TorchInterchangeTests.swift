import Foundation
import Interchange
import Testing
import UnifiedNormalization
import _TestSupport

@testable import UNLab

/// The lab against PyTorch: `Tests/Fixtures/lab/` holds the initial weights and batches that the
/// lab writes (`lab-interchange export`) and what `scripts/lab_torch_reference.py` made of them in
/// float64 PyTorch (per-step losses, final parameters), with LayerNorm and with the authors' UN1d
/// (the independent port of spec section 4). Here the lab trains the same 50 steps and compares.
@Suite("UNLab against PyTorch")
struct TorchInterchangeTests {
    static func url(_ name: String) -> URL { PackagePaths.fixture("lab/\(name).safetensors") }
    static func load(_ name: String) throws -> SafetensorsFile { try SafetensorsFile(contentsOf: url(name)) }

    /// The committed inputs are exactly what the lab writes from the committed data and its seeds,
    /// byte for byte, so the comparison below is with the lab's own model and batches.
    @Test("The committed initial weights and batches are the lab's, byte for byte")
    func fixturesAreTheLabs() throws {
        let digits = try InterchangeFixtures.digits(
            DigitsDataset(contentsOf: PackagePaths.root.appendingPathComponent("Data/digits/digits.bin")))
        let corpus = try SentenceCorpus(
            contentsOf: PackagePaths.root.appendingPathComponent("Data/sentences/wordnet-examples.txt"))
        let language = try InterchangeFixtures.language(corpus)
        for (name, file) in [
            ("digits-initial", digits.initial), ("digits-batches", digits.batches),
            ("language-initial", language.initial), ("language-batches", language.batches),
        ] {
            #expect(try file.serialized() == [UInt8](try Data(contentsOf: Self.url(name))), "\(name)")
        }
    }

    /// Differences of one run: the largest relative loss difference over the steps; the largest
    /// over tensors of `‖θ_swift − θ_torch‖∞ / ‖θ_torch‖∞` for the final parameters, the key
    /// biases apart (`keyBias`: their difference relative to the largest parameter of the model);
    /// `function`: `‖z_swift − z_torch‖∞ / ‖z_torch‖∞` for the logits `z` of the first batch (inference
    /// mode) of the lab's model with its own final parameters and with PyTorch's, key biases included.
    struct Agreement {
        var loss = 0.0
        var parameters = 0.0
        var worstTensor = ""
        var keyBias = 0.0
        var largestKeyBias = 0.0
        var skips = 0
        var function = 0.0
    }

    static func relative(_ a: [Double], _ b: [Double]) -> Double {
        (zip(a, b).map { abs($0 - $1) }.max() ?? 0) / (b.map(abs).max() ?? 0)
    }

    static func compare(losses: [Double], parameters: [[Double]], names: [ParameterName], torch: SafetensorsFile)
        throws -> Agreement
    {
        let reference = try torch.tensor("losses").float64()
        #expect(reference.count == losses.count)
        var a = Agreement()
        for (s, t) in zip(losses, reference) { a.loss = max(a.loss, abs(s - t) / abs(t)) }
        let final = try ParameterName.tensors(in: torch, names: names, extra: ["losses"])
        let scale = final.joined().map(abs).max() ?? 0
        for (n, (s, t)) in zip(names, zip(parameters, final)) {
            let diff = zip(s, t).map { abs($0 - $1) }.max() ?? 0
            let size = t.map(abs).max() ?? 0
            // ∂L/∂b_k is 0 in exact arithmetic (a key bias shifts all of a query's scores alike, and
            // softmax ignores that), so b_k changes the model's function not at all and its values
            // are AdamW acting on rounding noise in both programs: relative to itself, noise against
            // noise. Reported on the scale of the whole model; what it must not change, the model's
            // function, is checked by `function` (logits with PyTorch's b_k and the rest).
            if n.name.hasSuffix("attention.key.bias") {
                a.keyBias = max(a.keyBias, diff / scale)
                a.largestKeyBias = max(a.largestKeyBias, size)
                continue
            }
            let rel = diff / size
            if rel > a.parameters { (a.parameters, a.worstTensor) = (rel, n.name) }
        }
        return a
    }

    /// The skips of UN's filtration over all the encoder's norms (0 for another norm).
    static func skips<Norm>(_ e: TransformerEncoder<Norm>) -> Int {
        let norms = e.blocks.flatMap { [$0.norm1, $0.norm2] } + [e.finalNorm]
        return norms.reduce(0) { $0 + (($1 as? UnifiedNorm<Double>)?.skipCounter ?? 0) }
    }

    static func run<Norm: NormalizationLayer>(
        _ task: InterchangeSetup.Task, _ norm: String, _ make: (Int) throws -> Norm
    )
        throws -> Agreement where Norm.Scalar == Double
    {
        let initial = try load("\(task.rawValue)-initial")
        let batches = try load("\(task.rawValue)-batches")
        let torch = try load("\(task.rawValue)-torch-\(norm)")
        let setup = try InterchangeSetup(metadata: initial.metadata)
        switch task {
        case .digits:
            var m = try setup.visionTransformer(makeNorm: make)
            try m.loadParameters(from: initial)
            let losses = try BatchSequenceTraining.train(
                &m, on: BatchTensors.imageBatches(in: batches), options: setup.optimizer)
            var a = try compare(losses: losses, parameters: m.parameters, names: m.parameterNames, torch: torch)
            a.skips = skips(m.encoder)
            var t = m
            try t.loadParameters(from: torch, extra: ["losses"])
            let b = try BatchTensors.imageBatches(in: batches)[0]
            a.function = relative(
                try m.inference(images: b.images, batch: b.batch), try t.inference(images: b.images, batch: b.batch))
            return a
        case .language:
            var m = try setup.languageModel(makeNorm: make)
            try m.loadParameters(from: initial)
            let losses = try BatchSequenceTraining.train(
                &m, on: BatchTensors.languageBatches(in: batches), options: setup.optimizer)
            var a = try compare(losses: losses, parameters: m.parameters, names: m.parameterNames, torch: torch)
            a.skips = skips(m.encoder)
            var t = m
            try t.loadParameters(from: torch, extra: ["losses"])
            let b = try BatchTensors.languageBatches(in: batches)[0]
            a.function = relative(try m.inference(b), try t.inference(b))
            return a
        }
    }

    /// 50 steps in the lab against 50 steps in PyTorch, from the same weights on the same batches.
    /// The bound 1e-10 is the target: one step's rounding differences are ~1e-16 relative
    /// (different summation orders in BLAS and reductions), and 50 AdamW steps amplify them by a
    /// few orders (measured: ~1e-15 at peak 1e-3; ~1e-13 on the digits at peak 3e-2 with 49 UN
    /// skips), not by six; one behaviour of UN done otherwise is off by 4e-4 to 0.3 in the loss
    /// (``deviationIsSeen(task:deviation:)``).
    @Test(
        "50 training steps agree with PyTorch (float64) to 1e-10",
        arguments: [
            (InterchangeSetup.Task.digits, "layernorm"), (.digits, "un"), (.language, "layernorm"), (.language, "un"),
        ])
    func agreesWithTorch(task: InterchangeSetup.Task, norm: String) throws {
        let setup = try InterchangeSetup(metadata: Self.load("\(task.rawValue)-initial").metadata)
        let a: Agreement
        if norm == "un" {
            a = try Self.run(task, norm, setup.unifiedNorm)
        } else {
            a = try Self.run(task, norm, setup.layerNorm)
        }
        print(
            "UNLab vs torch, \(task.rawValue) \(norm): loss \(a.loss), parameters \(a.parameters) (\(a.worstTensor)),"
                + " b_k difference / max|θ| \(a.keyBias) (|b_k| ≤ \(a.largestKeyBias)), logits \(a.function),"
                + " UN skips \(a.skips)")
        #expect(a.loss <= 1e-10, "largest relative loss difference \(a.loss)")
        #expect(a.parameters <= 1e-10, "largest relative parameter difference \(a.parameters) in \(a.worstTensor)")
        #expect(a.function <= 1e-10, "logits with the lab's and PyTorch's final parameters: \(a.function)")
    }

    /// The comparison has the power to see one behaviour of spec section 4 done the other way:
    /// the lab's UN with one named deviation, against the same PyTorch runs, misses the bound by
    /// orders of magnitude (the skip path included: `noSlotRewriteOnSkip` acts only on a skip).
    @Test(
        "One UN behaviour done the other way is far outside the bound",
        arguments: [
            (InterchangeSetup.Task.digits, ReferenceDeviation.noSlotRewriteOnSkip), (.digits, .pytorchMomentum),
            (.language, .backwardMeansOverRealTokens), (.language, .counterAfterStep),
        ])
    func deviationIsSeen(task: InterchangeSetup.Task, deviation: ReferenceDeviation) throws {
        let setup = try InterchangeSetup(metadata: Self.load("\(task.rawValue)-initial").metadata)
        let a = try Self.run(task, "un") { c in
            var u = try setup.unifiedNorm(c)
            u.deviations = [deviation]
            return u
        }
        print("UNLab vs torch, \(task.rawValue) un with \(deviation): loss \(a.loss), parameters \(a.parameters)")
        // 1e-8: a hundred times the bound of the faithful comparison, so the verdict is not a near miss.
        #expect(max(a.loss, a.parameters) > 1e-8, "deviation \(deviation) not seen")
    }
}
