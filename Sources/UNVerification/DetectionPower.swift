import Dispatch
import GradientCheck

/// The gradient checker's measured detection power: for each smooth function of the accuracy
/// suite and each precision, single-entry errors of relative size `10⁻ᵏ` (k = 1…12) planted in a
/// right gradient at seeded points, and how often the checker fails the check *at that entry*;
/// and, on the right gradients at the same points, how often it fails at all (false alarms).
public enum DetectionPower {
    /// One planted size (or none: the right gradient).
    public struct Cell: Sendable, Codable, Equatable {
        /// `k` of the planted relative error `10⁻ᵏ`; `nil` for the right gradient.
        public var exponent: Int?
        public var trials: Int
        /// Failed with a mismatch at the planted entry.
        public var detected: Int
        /// Ended undecided (no mismatch anywhere).
        public var inconclusive: Int
        /// Passed: the plant went unseen.
        public var missed: Int
        /// Failed at an entry that was not planted (for the right gradient: every failure).
        public var falseAlarms: Int
        /// Plants that round away in the function's precision (`S(a(1 + 10⁻ᵏ)) == S(a)`): not counted as trials.
        public var unrepresentable: Int
        public var detectionRate: Double { trials > 0 ? Double(detected) / Double(trials) : 0 }
    }

    public struct Row: Sendable, Codable, Equatable {
        public var function: String
        public var precision: String
        public var cells: [Cell]
        /// The smallest planted relative error `10⁻ᵏ` detected in ≥ 99% of trials, with every
        /// larger one detected at that rate too; `nil` if even 10⁻¹ is not.
        public var smallestDetected99: Double? {
            var best: Double?
            for c in cells.sorted(by: { ($0.exponent ?? 0) < ($1.exponent ?? 0) }) {
                guard let k = c.exponent else { continue }
                if c.trials > 0 && c.detectionRate >= 0.99 { best = pow10(-k) } else if c.trials > 0 { break }
            }
            return best
        }
        public var falseAlarms: Int { cells.reduce(0) { $0 + $1.falseAlarms } }
        public var rightTrials: Int { cells.first { $0.exponent == nil }?.trials ?? 0 }
        public var rightFalseAlarms: Int { cells.first { $0.exponent == nil }?.falseAlarms ?? 0 }
    }

    static func pow10(_ k: Int) -> Double {
        var p = 1.0
        for _ in 0..<abs(k) { p *= 10 }
        return k < 0 ? 1 / p : p
    }

    /// Runs the study in precision `S` on the suite's smooth functions (or `functions`).
    ///
    /// - Parameters:
    ///   - trials: points per cell (each cell draws its own points from `seed`).
    ///   - exponents: the `k` of the planted sizes.
    /// - Throws: ``GradientCheckError`` if a check cannot run.
    public static func run<S: CheckScalar>(
        _: S.Type, trials: Int, seed: UInt64, exponents: [Int] = Array(1...12),
        functions: [CheckerAccuracySuite.Function]? = nil,
        checker: GradientChecker = GradientChecker()
    ) throws -> [Row] {
        let fns = functions ?? CheckerAccuracySuite.functions.filter(\.smooth)
        let plants = [nil] + exponents.map(Optional.some)
        // Every cell draws its points from its own seed, so the cells are independent work items:
        // they run concurrently, and the rows are the same whatever the schedule.
        let work = fns.indices.flatMap { fi in plants.map { (fi, $0) } }
        var slots = [Result<Cell, any Error>?](repeating: nil, count: work.count)
        slots.withUnsafeMutableBufferPointer { out in
            let shared = CellSlots(slots: out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: work.count) { w in
                let (fi, k) = work[w]
                shared.slots[w] = Result {
                    try cell(S.self, fns[fi], index: fi, plant: k, trials: trials, seed: seed, checker: checker)
                }
            }
        }
        var rows: [Row] = []
        for (fi, fn) in fns.enumerated() {
            let cells = try work.indices.filter { work[$0].0 == fi }.map { try slots[$0]!.get() }
            rows.append(Row(function: fn.name, precision: "\(S.self)", cells: cells))
        }
        return rows
    }

    /// Each work item writes only its own slot.
    private struct CellSlots<T>: @unchecked Sendable {
        let slots: UnsafeMutablePointer<T>
    }

    /// One cell: `trials` seeded points of function `fn` (the suite's `index`-th), the plant `10⁻ᵏ`.
    static func cell<S: CheckScalar>(
        _: S.Type, _ fn: CheckerAccuracySuite.Function, index fi: Int, plant k: Int?, trials: Int, seed: UInt64,
        checker: GradientChecker
    ) throws -> Cell {
        var rng = SeededGenerator(seed: seed &+ UInt64(fi) &* 1_000_003 &+ UInt64(k ?? 0) &* 7919)
        var cell = Cell(
            exponent: k, trials: 0, detected: 0, inconclusive: 0, missed: 0, falseAlarms: 0, unrepresentable: 0)
        for _ in 0..<trials {
            let xs = fn.domain(&rng).map { S($0) }
            let truth = fn.gradient(xs.map(Double.init))
            var claimed = truth.map { S($0) }
            let j = Int.random(in: 0..<truth.count, using: &rng)
            let sign: Double = Bool.random(using: &rng) ? 1 : -1
            if let k {
                let planted = S(truth[j] * (1 + sign * pow10(-k)))
                if planted == claimed[j] {
                    cell.unrepresentable += 1
                    continue
                }
                claimed[j] = planted
            }
            // Double and Float points are passed as they are (no conversion copy per evaluation);
            // another CheckScalar type goes through Float.
            let value: ([S]) -> S =
                if S.self == Double.self {
                    { fn.valueDouble($0 as! [Double]) as! S }
                } else if S.self == Float.self {
                    { S(fn.valueFloat($0 as! [Float])) }
                } else {
                    { S(fn.valueFloat($0.map(Float.init))) }
                }
            let r = try checker.checkGradient(of: value, at: xs, gradient: claimed)
            cell.trials += 1
            let hitPlant = k != nil && r.mismatches.contains { $0.index == [j] }
            let elsewhere = r.mismatches.contains { k == nil || $0.index != [j] }
            if elsewhere { cell.falseAlarms += 1 }
            if hitPlant {
                cell.detected += 1
            } else if r.outcome == .pass {
                cell.missed += 1
            } else if !elsewhere {
                cell.inconclusive += 1
            }
        }
        return cell
    }
}
