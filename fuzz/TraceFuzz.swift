// libFuzzer entry point for the trace reader and replay (see scripts/fuzz-trace.sh): every input
// must end in a decoded trace, a replay result, or a typed error; a trap is a finding.
import Foundation
import UNVerification

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTrace(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(bytes: data, count: size)
    guard let trace = try? UNTrace.decode(bytes, path: "fuzz-input") else { return 0 }
    _ = try? TraceReplay.replay(trace)
    return 0
}
