import GradientCheck

/// One sub-check of a claim at one input: whether it holds and how far from failing it was.
public struct ClaimCheck: Sendable, Codable, Equatable {
    public var name: String
    public var holds: Bool
    /// Normalized slack: ≥ 0 when the check holds, negative when it fails. Inequalities and
    /// rounding bounds give their relative slack (`1 − error/bound`, or the relative gap); an
    /// exact identity decided in rational arithmetic gives 1 (holds) or −1 (fails); an
    /// equality case of an inequality (K1 at M = 2) gives 0, since it sits on the boundary.
    public var margin: Double
    /// False when the check could not decide at this input (a gradient check ending
    /// `inconclusive`): it then neither holds nor fails, and is counted apart.
    public var decided: Bool = true

    public init(_ name: String, holds: Bool, margin: Double, decided: Bool = true) {
        self.name = name
        self.holds = holds && decided
        self.margin = margin
        self.decided = decided
    }
    /// A check whose holding is `margin ≥ 0`.
    public init(_ name: String, margin: Double) { self.init(name, holds: margin >= 0, margin: margin) }
}

/// The outcome of a claim at one input.
public struct ClaimOutcome: Sendable, Codable {
    public var checks: [ClaimCheck]
    /// Measured counts that are not pass/fail (e.g. how often a naive comparison fails).
    public var notes: [String: Double]
    /// Text facts about the case (a layer's name, a regime), kept with pinned records so that a
    /// report can label the map the pinned examples cover.
    public var labels: [String: String]
    public init(_ checks: [ClaimCheck], notes: [String: Double] = [:], labels: [String: String] = [:]) {
        self.checks = checks
        self.notes = notes
        self.labels = labels
    }
    /// An input outside the claim's hypotheses (`reason` is kept as a note).
    public static func notApplicable(_ reason: String) -> ClaimOutcome {
        var o = ClaimOutcome([], notes: ["not applicable: \(reason)": 1])
        o.notApplicable = true
        return o
    }
    /// A measurement, not a test: the case records numbers (`notes`) that the claim reports but
    /// does not judge (a G5 cell whose backward is an approximation by design, the authors' filter
    /// rule's false-alarm rate). Counted apart; never a pass.
    public static func measurement(_ notes: [String: Double], labels: [String: String] = [:]) -> ClaimOutcome {
        var o = ClaimOutcome([], notes: notes, labels: labels)
        o.measured = true
        return o
    }
    public var measured: Bool = false
    /// Every check decided and held.
    public var holds: Bool { checks.allSatisfy(\.holds) }
    /// Some decided check failed.
    public var fails: Bool { checks.contains { $0.decided && !$0.holds } }
    /// Nothing failed, but some check could not decide.
    public var undecided: Bool { !fails && !notApplicable && !measured && checks.contains { !$0.decided } }
    /// The input is outside the claim's hypotheses (no check applies): counted apart, never a pass.
    public var notApplicable: Bool = false
    public var margin: Double { checks.filter(\.decided).map(\.margin).min() ?? .infinity }
    public var failing: [ClaimCheck] { checks.filter { $0.decided && !$0.holds } }
}

/// A claim: its identifier, statement in words and symbols, where its proof is, the generator
/// of its inputs (aimed at where claims break) and the check. The same value serves
/// `swift test` (through property-based generators producing `Input`) and the report.
public struct Claim<Input: Sendable & CustomStringConvertible>: Sendable {
    public var id: String
    public var title: String
    public var statement: String
    public var symbols: String
    /// `proofs/FILE.md#anchor`.
    public var proof: String
    /// The generator of inputs, or `nil` for a claim over a fixed set of inputs (its `examples`,
    /// such as S3's recorded SciPy values).
    public var generator: (@Sendable (inout ClaimRandom) -> Input)?
    public var check: @Sendable (Input) throws -> ClaimOutcome
    /// Pinned examples (Hypothesis's `@example`): inputs that once broke something, or the cells of
    /// a map that must always be covered. All of them are checked first, before the generated
    /// cases, in `swift test` and in the report alike.
    public var examples: [Input]
    /// How many times as expensive one case is as a typical claim's: a run asked for `n` cases
    /// draws `max(1, n / relativeCost)` generated cases (after the pinned examples), so one case
    /// count (``ClaimCatalogue/testCases``, times the report's effort) serves every claim.
    public var relativeCost: Int

    public init(
        id: String, title: String, statement: String, symbols: String, proof: String,
        examples: [Input] = [], relativeCost: Int = 1,
        generate: (@Sendable (inout ClaimRandom) -> Input)?,
        check: @escaping @Sendable (Input) throws -> ClaimOutcome
    ) {
        self.examples = examples
        self.relativeCost = max(1, relativeCost)
        self.id = id
        self.title = title
        self.statement = statement
        self.symbols = symbols
        self.proof = proof
        self.generator = generate
        self.check = check
    }

    /// One input from the generator, or (a claim over a fixed set) one of the examples.
    public var generate: @Sendable (inout ClaimRandom) -> Input {
        if let generator { return generator }
        let examples = self.examples
        return { rng in examples[Int.random(in: 0..<examples.count, using: &rng)] }
    }
}

/// One pinned example's outcome, kept in the run so a report can show the map it covers.
public struct PinnedRecord: Sendable, Codable {
    /// Position in the claim's `examples`.
    public var index: Int
    public var input: String
    public var checks: [ClaimCheck]
    public var notes: [String: Double]
    public var labels: [String: String]
    public var measured: Bool
    public var notApplicable: Bool
}

/// What running a claim over many cases found.
public struct ClaimRun: Sendable, Codable {
    public var id: String
    public var title: String
    public var statement: String
    public var symbols: String
    public var proof: String
    public var cases: Int
    public var seed: UInt64
    public var failures: Int
    public var smallestMargin: Double
    public var smallestMarginCheck: String
    public var smallestMarginInput: String
    public var counterexample: String?
    public var notes: [String: Double]
    /// Cases where no check failed but some could not decide (counted apart from failures).
    public var undecided: Int = 0
    /// Pinned examples checked before the generated cases (included in `cases`).
    public var pinnedExamples: Int = 0
    /// Generated cases outside the claim's hypotheses (Hypothesis's `assume`), counted apart.
    public var notApplicable: Int = 0
    /// Cases that measured without judging (``ClaimOutcome/measurement(_:)``), counted apart.
    public var measured: Int = 0
    /// The pinned examples' outcomes, in order.
    public var pinned: [PinnedRecord] = []
    /// Cases some check decided (neither not applicable nor a measurement).
    public var testedCases: Int { cases - notApplicable - measured }
    /// The health check: at most half of the cases may be not applicable, else the generator is
    /// not testing the claim and the run decides nothing.
    public var healthy: Bool { notApplicable * 2 <= cases && testedCases > 0 }
    /// No case failed, every case decided, and the generator was healthy.
    public var holds: Bool { failures == 0 && undecided == 0 && healthy }

    /// The run's verdict: any failure falsifies; more than 1% undecided cases (rounded up), or
    /// an unhealthy generator, leaves the claim undecided; otherwise it holds. (Undecided cases are
    /// inputs where a check could not decide, for example a gradient entry below what rounding
    /// lets a finite difference see; they count neither for nor against the claim.)
    public var status: Status {
        if failures > 0 { return .falsified }
        if undecided * 100 > max(testedCases, 100) || !healthy { return .inconclusive }
        return .holds
    }
    public enum Status: String, Sendable, Codable { case holds, falsified, inconclusive }
}

/// A claim with its input type erased, so the catalogue can list them all.
public protocol CatalogueEntry: Sendable {
    var id: String { get }
    var title: String { get }
    var proof: String { get }
    func run(cases: Int, seed: UInt64, progress: (@Sendable (Int) -> Void)?) -> ClaimRun
}

extension Claim: CatalogueEntry {
    public func run(cases: Int, seed: UInt64, progress: (@Sendable (Int) -> Void)? = nil) -> ClaimRun {
        var rng = ClaimRandom(seed: seed)
        var notApplicable = 0
        var failures = 0
        var undecided = 0
        var smallest = Double.infinity
        var smallestCheck = ""
        var smallestInput = ""
        var counterexample: String?
        var notes: [String: Double] = [:]
        let pinned = examples.count
        let total = pinned + (generator == nil ? 0 : max(1, cases / relativeCost))
        var records: [PinnedRecord] = []
        var measured = 0
        for k in 0..<total {
            let input = k < pinned ? examples[k] : generate(&rng)
            let outcome: ClaimOutcome
            do { outcome = try check(input) } catch {
                outcome = ClaimOutcome([ClaimCheck("check threw: \(error)", holds: false, margin: -.infinity)])
            }
            if k < pinned {
                records.append(
                    PinnedRecord(
                        index: k, input: input.description, checks: outcome.checks, notes: outcome.notes,
                        labels: outcome.labels, measured: outcome.measured, notApplicable: outcome.notApplicable))
            }
            for (n, v) in outcome.notes { notes[n, default: 0] += v }
            if outcome.measured {
                measured += 1
                progress?(k + 1)
                continue
            }
            if outcome.notApplicable {
                notApplicable += 1
                progress?(k + 1)
                continue
            }
            if let worst = outcome.checks.filter(\.decided).min(by: { $0.margin < $1.margin }), worst.margin < smallest
            {
                smallest = worst.margin
                smallestCheck = worst.name
                smallestInput = input.description
            }
            if outcome.undecided { undecided += 1 }
            if outcome.fails {
                failures += 1
                if counterexample == nil {
                    counterexample =
                        "case \(k): \(input) — failing: "
                        + outcome.failing.map { "\($0.name) (margin \($0.margin))" }.joined(separator: ", ")
                }
            }
            progress?(k + 1)
        }
        return ClaimRun(
            id: id, title: title, statement: statement, symbols: symbols, proof: proof, cases: total, seed: seed,
            failures: failures, smallestMargin: smallest, smallestMarginCheck: smallestCheck,
            smallestMarginInput: smallestInput, counterexample: counterexample, notes: notes,
            undecided: undecided, pinnedExamples: pinned, notApplicable: notApplicable, measured: measured,
            pinned: records)
    }
}
