// Weights as the GEMM reads them: float32, or bfloat16 widened on the fly so decode streams
// half the bytes.

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

/// Loads 8 consecutive weights as float32.
protocol WeightLoader {
    static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float>
    static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float
}

enum F32Loader: WeightLoader {
    @inline(__always)
    static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        base.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        base.load(fromByteOffset: index * 4, as: Float.self)
    }
}

enum BF16Loader: WeightLoader {
    @inline(__always)
    static func load8(_ base: UnsafeRawPointer, _ index: Int) -> SIMD8<Float> {
        let halves = base.loadUnaligned(fromByteOffset: index * 2, as: SIMD8<UInt16>.self)
        let widened = SIMD8<UInt32>(truncatingIfNeeded: halves) &<< 16
        return unsafeBitCast(widened, to: SIMD8<Float>.self)
    }

    @inline(__always)
    static func load1(_ base: UnsafeRawPointer, _ index: Int) -> Float {
        Float(bitPattern: UInt32(base.load(fromByteOffset: index * 2, as: UInt16.self)) << 16)
    }
}
