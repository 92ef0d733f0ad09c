// C = A · Bᵀ for activations A `[m, k]` and weights B `[n, k]`: the multiply of every
// linear layer. Threads split B's rows, so each streams its own weights once; the inner
// kernels (CKilnCPU) use the widest vector instructions the CPU has.

import CKilnCPU
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The vector width the GEMM uses: the CPU's widest, or less if `KILN_CPU_VECTOR_BITS` asks.
let cpuVectorBits: Int32 = {
    let supported = kiln_cpu_vector_bits()
    if let text = getenv("KILN_CPU_VECTOR_BITS"), let requested = Int32(String(cString: text)) { return min(requested, supported) }
    return supported
}()

/// The vector widths this CPU's kernels run, widest first.
let supportedVectorWidths: [Int32] = ([512, 256, 128] as [Int32]).filter { $0 <= cpuVectorBits }

/// One way to run a GEMM: the vector width of the inner kernel and how many threads share
/// it. The builder measures the candidates per weight shape (CPUKernelTuner).
struct GemmVariant: Hashable, Sendable {
    var vectorBits: Int32
    var threads: Int

    /// The widest kernel on every thread: the choice without measurements.
    static let standard = GemmVariant(vectorBits: cpuVectorBits, threads: workerCount)

    /// Every variant this CPU can run.
    static var candidates: [GemmVariant] {
        let threadCounts = workerCount > 1 ? [workerCount, 1] : [1]
        return supportedVectorWidths.flatMap { width in threadCounts.map { GemmVariant(vectorBits: width, threads: $0) } }
    }

    init(vectorBits: Int32, threads: Int) {
        self.vectorBits = vectorBits
        self.threads = threads
    }

    /// A stored choice, or nil when this CPU cannot run it (narrower vectors, say).
    init?(parameters: [String: Int]) {
        guard let bits = parameters["vector_bits"], let threads = parameters["threads"], bits <= Int(cpuVectorBits), threads >= 1 else { return nil }
        self.init(vectorBits: Int32(bits), threads: min(threads, workerCount))
    }

    var parameters: [String: Int] { ["vector_bits": Int(vectorBits), "threads": threads] }
}

/// `c[i, j] = Σ a[i, p] · b[j, p]`.
func gemmTransposedB(a: UnsafePointer<Float>, m: Int, b: WeightMatrix, c: UnsafeMutablePointer<Float>, variant: GemmVariant = .standard) {
    let n = b.rows, k = b.columns
    let format = b.kernelFormat
    // ranges of 16-row blocks, so every thread's share starts on a block
    let blocks = (n + 15) / 16
    parallelFor(blocks, cost: m * n * k, maxWorkers: variant.threads) { range in
        kiln_gemm_nt(variant.vectorBits, a, Int64(m), Int64(k), b.base, format, Int64(range.lowerBound * 16),
                     Int64(min(n, range.upperBound * 16)), c, Int64(n))
    }
}

/// `c = a · b` for activations `a` `[m, k]` and `b` `[k, n]` (no weight layout involved).
func gemm(a: UnsafePointer<Float>, m: Int, k: Int, b: UnsafePointer<Float>, n: Int, c: UnsafeMutablePointer<Float>) {
    parallelFor(m, cost: m * n * k) { rows in
        for i in rows {
            let cRow = c + i * n
            cRow.initialize(repeating: 0, count: n)
            for p in 0..<k {
                let x = a[i * k + p]
                let bRow = b + p * n
                for j in 0..<n { cRow[j] += x * bRow[j] }
            }
        }
    }
}
