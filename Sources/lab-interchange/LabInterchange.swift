// The lab's side of the PyTorch interchange (issue 14). Run from the repository root (it reads
// Data/digits/ and Data/sentences/):
//
//   swift run -c release lab-interchange export [DIR]   writes the initial weights and batches of
//       both runs to DIR (default Tests/Fixtures/lab); scripts/lab_torch_reference.py trains them.
//   swift run -c release lab-interchange bench [DIR] [REPEATS]   times one training step (forward,
//       backward, AdamW) of each run's model on its first batch; OPENBLAS_NUM_THREADS chooses
//       BLAS's threads (the lab's own code is single-threaded).
import Foundation
import Interchange
import UNLab
import UnifiedNormalization

@main
struct LabInterchange {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let directory = URL(fileURLWithPath: arguments.count > 1 ? arguments[1] : "Tests/Fixtures/lab")
        do {
            switch arguments.first {
            case "export": try export(to: directory)
            case "bench": try bench(directory, repeats: arguments.count > 2 ? Int(arguments[2]) ?? 50 : 50)
            default: fail("usage: lab-interchange export [DIR] | bench [DIR] [REPEATS]")
            }
        } catch {
            fail("lab-interchange: \(error)")
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        exit(2)
    }

    static func export(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let digits = try InterchangeFixtures.digits(
            DigitsDataset(contentsOf: URL(fileURLWithPath: "Data/digits/digits.bin")))
        let corpus = try SentenceCorpus(contentsOf: URL(fileURLWithPath: "Data/sentences/wordnet-examples.txt"))
        let language = try InterchangeFixtures.language(corpus)
        for (name, f) in [
            ("digits-initial", digits.initial), ("digits-batches", digits.batches),
            ("language-initial", language.initial), ("language-batches", language.batches),
        ] {
            let url = directory.appendingPathComponent(name + ".safetensors")
            try f.write(to: url)
            print("wrote \(url.path)")
        }
    }

    /// Median and minimum seconds of `body` over `repeats` runs, after 3 untimed ones.
    static func measure(_ repeats: Int, _ body: () throws -> Void) rethrows -> (median: Double, min: Double) {
        for _ in 0..<3 { try body() }
        var t: [Double] = []
        for _ in 0..<max(repeats, 1) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            t.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        t.sort()
        return (t[t.count / 2], t[0])
    }

    static func bench(_ directory: URL, repeats: Int) throws {
        let threads = ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] ?? "unset"
        for task in InterchangeSetup.Task.allCases {
            let initial = try SafetensorsFile(
                contentsOf: directory.appendingPathComponent("\(task.rawValue)-initial.safetensors"))
            let batches = try SafetensorsFile(
                contentsOf: directory.appendingPathComponent("\(task.rawValue)-batches.safetensors"))
            let setup = try InterchangeSetup(metadata: initial.metadata)
            let r1 = try time(task, setup, initial, batches, repeats, setup.layerNorm)
            let r2 = try time(task, setup, initial, batches, repeats, setup.unifiedNorm)
            for (norm, r) in [("layernorm", r1), ("un", r2)] {
                let ms = String(format: "median %.3f ms, min %.3f ms", r.median * 1e3, r.min * 1e3)
                print("swift \(task.rawValue) \(norm): \(ms) per step, OPENBLAS_NUM_THREADS=\(threads)")
            }
        }
    }

    /// One step (loss, gradient, AdamW update) of the task's model, timed on its first batch.
    static func time<Norm: NormalizationLayer>(
        _ task: InterchangeSetup.Task, _ setup: InterchangeSetup, _ initial: SafetensorsFile,
        _ batches: SafetensorsFile, _ repeats: Int, _ make: (Int) throws -> Norm
    ) throws -> (median: Double, min: Double) where Norm.Scalar == Double {
        switch task {
        case .digits:
            var m = try setup.visionTransformer(makeNorm: make)
            try m.loadParameters(from: initial)
            let b = try BatchTensors.imageBatches(in: batches)[0]
            var opt = AdamW(options: setup.optimizer, like: m.parameters)
            return try measure(repeats) {
                let g = try m.lossAndGradient(images: b.images, labels: b.labels).gradient
                var p = m.parameters
                try opt.update(&p, gradient: g)
                try m.setParameters(p)
            }
        case .language:
            var m = try setup.languageModel(makeNorm: make)
            try m.loadParameters(from: initial)
            let b = try BatchTensors.languageBatches(in: batches)[0]
            var opt = AdamW(options: setup.optimizer, like: m.parameters)
            return try measure(repeats) {
                let g = try m.lossAndGradient(b).gradient
                var p = m.parameters
                try opt.update(&p, gradient: g)
                try m.setParameters(p)
            }
        }
    }
}
