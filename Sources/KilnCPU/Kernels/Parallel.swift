// Splitting a kernel's work over all cores, on the spinning worker pool of CKilnCPU.

import CKilnCPU

/// The number of worker threads: `KILN_THREADS`, else every online core.
let workerCount = Int(kiln_thread_count())

/// Runs `body` over `0..<count` split into contiguous ranges, one per worker (at most
/// `maxWorkers`), when the total `cost` (in rough multiply-adds) makes threads worth their
/// hand-off.
@inline(__always)
func parallelFor(_ count: Int, cost: Int, maxWorkers: Int = workerCount, _ body: (Range<Int>) -> Void) {
    let workers = min(workerCount, maxWorkers, count)
    if workers <= 1 || cost < 32_768 {
        body(0..<count)
        return
    }
    let chunk = (count + workers - 1) / workers
    withoutActuallyEscaping(body) { body in
        var kernel = SharedKernel { w in
            let start = w * chunk
            let end = min(count, start + chunk)
            if start < end { body(start..<end) }
        }
        withUnsafeMutablePointer(to: &kernel) { pointer in
            kiln_parallel_run(Int32(workers), { context, index in
                context!.assumingMemoryBound(to: SharedKernel.self).pointee.task(Int(index))
            }, pointer)
        }
    }
}

/// A kernel body handed to worker threads.
///
/// Invariant: every kernel writes only the outputs of the range it is given, and
/// `kiln_parallel_run` returns only after all workers finish, so no two threads touch the
/// same memory and nothing outlives the call.
private struct SharedKernel {
    let task: (Int) -> Void
}
