// Weights as the GEMM reads them: float32, bfloat16, or llama.cpp's 32-weight blocks, all
// widened to float32 in registers so decode streams only the stored bytes.

import CKilnCPU
import KilnTensor

/// A read-only row-major matrix `[rows, columns]` in one of the formats the GEMM reads.
///
/// Invariant: `base` points at the whole matrix (for block formats `columns` is a multiple
/// of 32), and that memory outlives every kernel call (a memory-mapped checkpoint or
/// memory owned by the executable).
struct WeightMatrix: @unchecked Sendable {
    /// The stored element type: `.f32`, `.bf16`, `.q4_0`, `.q4_1` or `.q8_0`.
    let format: DType
    let base: UnsafeRawPointer
    let rows: Int
    let columns: Int

    /// The formats the GEMM kernels read in place.
    static let readableFormats: Set<DType> = [.f32, .bf16, .q4_0, .q4_1, .q8_0]

    var kernelFormat: kiln_weight_format {
        switch format {
        case .bf16: KILN_WEIGHTS_BF16
        case .q4_0: KILN_WEIGHTS_Q4_0
        case .q4_1: KILN_WEIGHTS_Q4_1
        case .q8_0: KILN_WEIGHTS_Q8_0
        default: KILN_WEIGHTS_F32
        }
    }

    /// Row `row` widened to float32 into `out`.
    @inline(__always)
    func widenRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        switch format {
        case .f32:
            out.update(from: base.assumingMemoryBound(to: Float.self) + row * columns, count: columns)
        case .bf16:
            let source = base.assumingMemoryBound(to: UInt16.self) + row * columns
            for i in 0..<columns { out[i] = Float(bitPattern: UInt32(source[i]) << 16) }
        default:
            let rowBytes = format.byteCount(elements: columns)!
            dequantizeBlocks(UnsafeRawBufferPointer(start: base + row * rowBytes, count: rowBytes), dtype: format,
                             count: columns, into: UnsafeMutableBufferPointer(start: out, count: columns))
        }
    }
}
