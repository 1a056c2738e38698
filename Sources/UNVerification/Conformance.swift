import Foundation
import UnifiedNormalization

/// What a trace is checked against.
public enum ConformanceTarget: String, CaseIterable, Sendable, Codable {
    /// The authors' `UN1d`, behaviour by behaviour (spec section 4).
    case reference
    /// The paper's UN with its calibrated backward (spec section 3).
    case paperCalibrated = "paper-calibrated"
    /// The paper's UN forward with the exact gradient of that forward.
    case paperExact = "paper-exact"

    public var mode: UnifiedNormMode {
        switch self {
        case .reference: return .referenceCompatible
        case .paperCalibrated: return .paper(.calibrated)
        case .paperExact: return .paper(.exact)
        }
    }
}

/// Checks someone's UN implementation, from traces it recorded (`un-trace/1` or `/2`), against
/// the authors' code or the paper, and where it differs from the authors' code names the
/// behaviours that differ: the catalogue of ``ReferenceDeviation``s is searched, single
/// deviations then pairs, for the ones that reproduce every trace to its precision.
public enum Conformance {
    public struct Explanation: Sendable, Codable, Equatable {
        /// The deviations, by name (``ReferenceDeviation`` raw values).
        public var deviations: [String]
        /// The behaviours of the spec they change.
        public var behaviours: [String]
        /// The worst normwise relative error of the traces replayed with these deviations.
        public var residual: Double
    }

    public struct Diagnosis: Sendable, Codable, Equatable {
        /// Every smallest set of deviations that reproduces all traces within the tolerance (more
        /// than one: these traces cannot tell them apart); empty: no single deviation or pair does.
        public var explanations: [Explanation]
        public var candidatesTried: Int
    }

    public struct Report: Sendable, Codable {
        public var schemaVersion = 1
        public var target: String
        public var tolerance: Double
        public var traces: [TraceReplay.Result]
        public var implementation: String?
        public var conforms: Bool { traces.allSatisfy(\.withinTolerance) }
        /// Only for the reference target, when the traces do not conform.
        public var diagnosis: Diagnosis?
    }

    /// Replays every trace against `target` and, for the reference target when they do not
    /// conform, searches the deviation catalogue (singles, then pairs) for explanations.
    ///
    /// - Parameters:
    ///   - traces: one or more traces of the same implementation (at least one).
    ///   - tolerance: normwise relative error per quantity (default the replay's 1e-12, for float64 traces).
    /// - Throws: ``TraceError`` or ``NormalizationError`` if a trace cannot be replayed.
    public static func check(
        _ traces: [UNTrace], against target: ConformanceTarget = .reference,
        tolerance: Double = TraceReplay.tolerance
    ) throws -> Report {
        let results = try traces.map { try TraceReplay.replay($0, tolerance: tolerance, mode: target.mode) }
        var report = Report(
            target: target.rawValue, tolerance: tolerance, traces: results,
            implementation: traces.compactMap(\.implementation).first)
        guard !report.conforms, target == .reference else { return report }
        report.diagnosis = try diagnose(traces, tolerance: tolerance)
        return report
    }

    /// The smallest sets of deviations (size 1, else 2) that reproduce every trace.
    public static func diagnose(_ traces: [UNTrace], tolerance: Double = TraceReplay.tolerance) throws -> Diagnosis {
        let all = ReferenceDeviation.allCases
        var tried = 0
        func explains(_ set: Set<ReferenceDeviation>) throws -> Double? {
            tried += 1
            var worst = 0.0
            for t in traces {
                let r = try TraceReplay.replay(
                    t, tolerance: tolerance, deviations: set, stopAtFirstDivergence: true)
                guard r.withinTolerance else { return nil }
                worst = max(worst, r.worst)
            }
            return worst
        }
        func explanation(_ set: [ReferenceDeviation], _ residual: Double) -> Explanation {
            Explanation(deviations: set.map(\.rawValue), behaviours: set.map(\.behaviour), residual: residual)
        }
        var found: [Explanation] = []
        for d in all { if let r = try explains([d]) { found.append(explanation([d], r)) } }
        if found.isEmpty {
            for (i, a) in all.enumerated() {
                for b in all[(i + 1)...] {
                    if let r = try explains([a, b]) { found.append(explanation([a, b], r)) }
                }
            }
        }
        return Diagnosis(explanations: found, candidatesTried: tried)
    }
}
