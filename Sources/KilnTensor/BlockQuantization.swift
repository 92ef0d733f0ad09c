// llama.cpp's legacy block formats (ggml-common.h): 32 elements per block with an fp16
// scale (and minimum). Kernels read them in place; this is the reference conversion.

/// Widens `count` elements of a block format (`count` a multiple of 32) into `out`.
///
/// Q4_0: value = (q − 8)·d; Q4_1: value = q·d + m; Q8_0: value = q·d. In the four-bit
/// formats byte j of a block holds element j in its low nibble and element j + 16 in its high.
public func dequantizeBlocks(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int, into out: UnsafeMutableBufferPointer<Float>) {
    precondition(dtype.isBlockQuantized && count % 32 == 0 && raw.count >= dtype.byteCount(elements: count)!)
    for block in 0..<(count / 32) {
        let base = block * dtype.byteSize, o = block * 32
        let d = floatFromHalfBits(raw.loadUnaligned(fromByteOffset: base, as: UInt16.self))
        switch dtype {
        case .q4_0:
            for j in 0..<16 {
                let byte = raw[base + 2 + j]
                out[o + j] = Float(Int(byte & 0x0F) - 8) * d
                out[o + j + 16] = Float(Int(byte >> 4) - 8) * d
            }
        case .q4_1:
            let m = floatFromHalfBits(raw.loadUnaligned(fromByteOffset: base + 2, as: UInt16.self))
            for j in 0..<16 {
                let byte = raw[base + 4 + j]
                out[o + j] = Float(byte & 0x0F) * d + m
                out[o + j + 16] = Float(byte >> 4) * d + m
            }
        default:
            for j in 0..<32 { out[o + j] = Float(Int8(bitPattern: raw[base + 2 + j])) * d }
        }
    }
}
