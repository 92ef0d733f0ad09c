// Conversion of GGUF tensor data (plain and quantized ggml types) to Float.
//
// Block layouts and formulas follow llama.cpp's ggml-common.h and the `dequantize_row_*`
// functions of ggml-quants.c. All multi-byte fields are little-endian and may be unaligned.
// The legacy 32-element blocks live in DequantizationLegacy.swift, the 256-element k-quants
// in DequantizationKQuants.swift.

import KilnTensor

/// Converts `count` elements of `type` stored in `bytes` to Float, writing `out[0..<count]`.
/// `count` must be a multiple of the type's block size and `bytes` must hold exactly the
/// blocks (callers validate sizes first; this precondition-fails otherwise).
/// Throws `GGUFError.unsupportedTensorType` for types it cannot convert, naming `tensor` and `file`.
public func dequantize(
    _ bytes: UnsafeRawBufferPointer, type: GGMLType, count: Int,
    into out: UnsafeMutableBufferPointer<Float>, tensor: String, file: String
) throws(GGUFError) {
    guard canDequantize(type) else {
        throw .unsupportedTensorType(file: file, tensor: tensor, type: type.description)
    }
    precondition(count >= 0, "dequantize: negative element count \(count)")
    precondition(count % type.blockSize == 0,
                 "dequantize: \(count) elements is not a whole number of \(type) blocks of \(type.blockSize)")
    precondition(type.byteCount(elements: count) == bytes.count,
                 "dequantize: \(bytes.count) bytes do not hold exactly \(count) \(type) elements")
    precondition(out.count >= count, "dequantize: output holds \(out.count) floats, need \(count)")
    guard count > 0, let src = bytes.baseAddress, let dst = out.baseAddress else { return }
    let blocks = count / type.blockSize

    switch type {
    case .f32:
        // element by element, not one memory copy: with the copy as its last call, an
        // optimized build (Swift 6.3, x86-64) returned from here as if it had thrown, a garbage
        // error (seemingly the error register left as the copy found it)
        for i in 0..<count {
            dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)))
        }
    case .f16:
        for i in 0..<count { dst[i] = floatFromHalfBits(loadU16(src, i &* 2)) }
    case .bf16:
        for i in 0..<count { dst[i] = floatFromBFloat16Bits(loadU16(src, i &* 2)) }
    case .f64:
        for i in 0..<count {
            let bits = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self))
            dst[i] = Float(Double(bitPattern: bits))
        }
    case .i8:
        for i in 0..<count { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
    case .i16:
        for i in 0..<count { dst[i] = Float(Int16(bitPattern: loadU16(src, i &* 2))) }
    case .i32:
        for i in 0..<count {
            dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: i &* 4, as: Int32.self)))
        }
    case .q4_0: dequantizeBlocks(bytes, dtype: .q4_0, count: count, into: out)
    case .q4_1: dequantizeBlocks(bytes, dtype: .q4_1, count: count, into: out)
    case .q5_0: dequantizeQ5_0(src, blocks: blocks, into: dst)
    case .q5_1: dequantizeQ5_1(src, blocks: blocks, into: dst)
    case .q8_0: dequantizeBlocks(bytes, dtype: .q8_0, count: count, into: out)
    case .q8_1: dequantizeQ8_1(src, blocks: blocks, into: dst)
    case .q2_K: dequantizeQ2_K(src, blocks: blocks, into: dst)
    case .q3_K: dequantizeQ3_K(src, blocks: blocks, into: dst)
    case .q4_K: dequantizeQ4_K(src, blocks: blocks, into: dst)
    case .q5_K: dequantizeQ5_K(src, blocks: blocks, into: dst)
    case .q6_K: dequantizeQ6_K(src, blocks: blocks, into: dst)
    case .q8_K: dequantizeQ8_K(src, blocks: blocks, into: dst)
    case .i64:
        preconditionFailure("unreachable: \(type) is rejected above")
    }
}

/// Whether `dequantize` converts `type` (I64 is refused: it does not fit a Float faithfully
/// and no model weight uses it).
public func canDequantize(_ type: GGMLType) -> Bool {
    switch type {
    case .i64: false
    default: true
    }
}

// MARK: - Little-endian field readers shared by the block decoders

@inline(__always)
func loadU16(_ base: UnsafeRawPointer, _ offset: Int) -> UInt16 {
    UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}

@inline(__always)
func loadU32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

/// An fp16 (ggml_half) field as Float.
@inline(__always)
func loadHalf(_ base: UnsafeRawPointer, _ offset: Int) -> Float {
    floatFromHalfBits(loadU16(base, offset))
}
