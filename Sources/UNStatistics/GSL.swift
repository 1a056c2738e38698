import CGSL
import GSLShim

/// An error reported by GSL (its default handler would have aborted the process).
public struct GSLError: Error, Equatable, Sendable, CustomStringConvertible {
    /// GSL's error code (`GSL_EDOM`, `GSL_ERANGE`, …).
    public var code: Int32
    public var reason: String
    public var description: String { "GSL error \(code): \(reason)" }
}

/// Why a statistical routine refused its input.
public enum StatisticsError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooFewSamples(what: String, needed: Int, got: Int)
    case zeroVariance(what: String)
    case nonFinite(what: String, index: Int)
    case invalidParameter(name: String, requirement: String)

    public var description: String {
        switch self {
        case .tooFewSamples(let w, let n, let g): return "\(w): needs at least \(n) samples, got \(g)"
        case .zeroVariance(let w): return "\(w) has zero variance: the test is meaningless"
        case .nonFinite(let w, let i): return "\(w) has a non-finite value at index \(i)"
        case .invalidParameter(let n, let r): return "invalid parameter \(n): \(r)"
        }
    }
}

/// Every GSL call goes through `GSL.call`: the recording handler is installed once, the
/// thread's error is cleared before the call and turned into a thrown `GSLError` after it.
enum GSL {
    private static let installed: Bool = {
        unv_gsl_install_handler()
        return true
    }()

    static func call<T>(_ body: () -> T) throws -> T {
        _ = installed
        unv_gsl_clear_error()
        let r = body()
        var buf = [CChar](repeating: 0, count: 256)
        let code = unv_gsl_last_error(&buf, buf.count)
        if code != 0 {
            let reason = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw GSLError(code: code, reason: reason)
        }
        return r
    }

    /// Makes GSL report an error on purpose (tests: proves an error cannot abort the process).
    static func raiseTestError() throws { try call { unv_gsl_raise_test_error() } }
}

func requireSamples(_ x: [Double], _ what: String, atLeast n: Int = 2) throws {
    guard x.count >= n else { throw StatisticsError.tooFewSamples(what: what, needed: n, got: x.count) }
    if let i = x.firstIndex(where: { !$0.isFinite }) { throw StatisticsError.nonFinite(what: what, index: i) }
}
