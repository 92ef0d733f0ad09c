// Weights as the GEMM reads them: float32, or bfloat16 widened in registers so decode
// streams half the bytes.

/// A read-only row-major matrix `[rows, columns]` in one of the formats the GEMM reads.
///
/// Invariant: `base` points at `rows × columns` elements that outlive every kernel call
/// (a memory-mapped checkpoint or memory owned by the executable).
struct WeightMatrix: @unchecked Sendable {
    enum Format { case f32, bf16 }
    let format: Format
    let base: UnsafeRawPointer
    let rows: Int
    let columns: Int

    /// Row `row` widened to float32 into `out`.
    @inline(__always)
    func widenRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        switch format {
        case .f32:
            out.update(from: base.assumingMemoryBound(to: Float.self) + row * columns, count: columns)
        case .bf16:
            let source = base.assumingMemoryBound(to: UInt16.self) + row * columns
            for i in 0..<columns { out[i] = Float(bitPattern: UInt32(source[i]) << 16) }
        }
    }
}
