import Interchange
import UnifiedNormalization

/// The runs checked against PyTorch (`scripts/lab_torch_reference.py`, fixtures in
/// `Tests/Fixtures/lab/`): for each task, an initial-weights file (with the ``InterchangeSetup``
/// as metadata) and the batches of every step, all a function of the committed data and the
/// seeds below. Tiny on purpose (width 16, 2 heads, 2 blocks), so that the files stay small.
///
/// UN runs with warm-up 8 (the authors' 4000 would leave all 50 steps in the current-statistics
/// regime): steps 1–8 use the current statistic, later steps the geometric mean of the window
/// of 4, with filtration on for the images and off for text (the authors' suggestion). The
/// compensation factor `r` stays 1 throughout (it starts after step `max(1000, warm-up)`).
public enum InterchangeFixtures {
    /// Steps per run.
    public static var steps: Int { 50 }
    /// The seed of the initial weights.
    public static var weightSeed: UInt64 { 14 }
    /// The seed of the batch order.
    public static var batchSeed: UInt64 { 15 }

    static func options(peak: Double) throws -> AdamW.Options {
        try AdamW.Options(schedule: LearningRateSchedule(peak: peak, warmupSteps: 10))
    }

    /// The digits run: ViT of width 16, 2 heads, 2 blocks; batches of 16 training images; AdamW
    /// peak 3e-2, raised so that UN's filtration fires (PyTorch's port skips 0, 1, 16, 14 and 18
    /// steps in its five norms; at 1e-3 it never fires in 50 steps), so the skip path is compared too.
    public static func digitsSetup() throws -> InterchangeSetup {
        InterchangeSetup(
            task: .digits, width: 16, heads: 2, layers: 2, outputs: 10, contextLength: 0,
            unifiedNorm: UnifiedNormConfiguration(channels: 16, warmupIters: 8, outlierFiltration: true),
            optimizer: try options(peak: 3e-2))
    }

    /// The language run: byte LM of width 16, 2 heads, 2 blocks, on right-padded batches of 8
    /// training sentences; the vocabulary is the training split's (``ByteVocabulary``); AdamW peak 1e-3.
    public static func languageSetup(_ corpus: SentenceCorpus) throws -> InterchangeSetup {
        let longest = corpus.train.map(\.count).max() ?? 0
        return InterchangeSetup(
            task: .language, width: 16, heads: 2, layers: 2, outputs: ByteVocabulary(training: corpus.train).count,
            contextLength: longest + 1,  // n bytes give n + 2 ids, so n + 1 input positions
            unifiedNorm: UnifiedNormConfiguration(channels: 16, warmupIters: 8, outlierFiltration: false),
            optimizer: try options(peak: 1e-3))
    }

    /// The initial weights (LayerNorm's and UN's are the same: both start at γ = 1, β = 0 and draw
    /// nothing) and the batches of the digits run.
    /// - Throws: ``LabError`` or ``SafetensorsError``.
    public static func digits(_ data: DigitsDataset) throws -> (initial: SafetensorsFile, batches: SafetensorsFile) {
        let setup = try digitsSetup()
        let model = try setup.visionTransformer(makeNorm: setup.layerNorm, seed: weightSeed)
        let batches = try BatchOrder.digits(data.train, batchSize: 16, steps: steps, seed: batchSeed)
        return (try model.parameterFile(metadata: setup.metadata), try BatchTensors.file(batches))
    }

    /// The initial weights and the batches of the language run.
    /// - Throws: ``LabError`` or ``SafetensorsError``.
    public static func language(_ corpus: SentenceCorpus) throws -> (
        initial: SafetensorsFile, batches: SafetensorsFile
    ) {
        let setup = try languageSetup(corpus)
        let model = try setup.languageModel(makeNorm: setup.layerNorm, seed: weightSeed)
        let vocabulary = ByteVocabulary(training: corpus.train)
        let batches = try BatchOrder.language(
            corpus.train.map(vocabulary.encode), batchSize: 8, steps: steps, seed: batchSeed)
        return (try model.parameterFile(metadata: setup.metadata), try BatchTensors.file(batches))
    }
}
