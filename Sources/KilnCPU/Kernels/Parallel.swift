// Splitting a kernel's work over all cores.

import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The number of worker threads: `KILN_THREADS`, else every online core.
let workerCount: Int = {
    if let text = getenv("KILN_THREADS"), let n = Int(String(cString: text)), n > 0 { return n }
    return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}()

/// Runs `body` over `0..<count` split into contiguous ranges, one per worker, when the
/// total `cost` (in rough multiply-adds) makes threads worth their wake-up time.
@inline(__always)
func parallelFor(_ count: Int, cost: Int, _ body: (Range<Int>) -> Void) {
    let workers = min(workerCount, count)
    if workers <= 1 || cost < 32_768 {
        body(0..<count)
        return
    }
    let chunk = (count + workers - 1) / workers
    withoutActuallyEscaping(body) { body in
        let shared = SharedKernel(body: body)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let start = w * chunk
            let end = min(count, start + chunk)
            if start < end { shared.body(start..<end) }
        }
    }
}

/// A kernel body handed to worker threads.
///
/// Invariant: every kernel writes only the outputs of the range it is given, and the
/// call returns only after all workers finish, so no two threads touch the same memory
/// and nothing outlives the call.
private struct SharedKernel: @unchecked Sendable {
    let body: (Range<Int>) -> Void
}
