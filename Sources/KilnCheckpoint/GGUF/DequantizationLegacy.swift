// The legacy 32-element block formats of ggml (Q5_0, Q5_1, Q8_1 here; Q4_0, Q4_1 and Q8_0,
// which Kiln also runs in place, are KilnTensor's `dequantizeBlocks`).
// Layouts (ggml-common.h), all scales fp16:
//   Q4_0: d, qs[16]            element j = low nibble of qs[j], element j+16 = high nibble; (q-8)*d
//   Q4_1: d, m, qs[16]         same nibbles; q*d + m
//   Q5_0: d, qh[4], qs[16]     5th bit of element i is bit i of the little-endian u32 qh; (q-16)*d
//   Q5_1: d, m, qh[4], qs[16]  same bits; q*d + m
//   Q8_0: d, qs[32] (int8)     q*d
//   Q8_1: d, s, qs[32] (int8)  q*d (s = d*sum(q) is only used by dot products)

@inline(__always)
func dequantizeQ5_0(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 22
        let y = dst + b &* 32
        let d = loadHalf(block, 0)
        let qh = loadU32(block, 2)
        let qs = (block + 6).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let byte = UInt32(qs[j])
            let high0 = ((qh >> UInt32(j)) & 1) << 4
            let high1 = ((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = Float(Int32((byte & 0x0F) | high0) - 16) * d
            y[j + 16] = Float(Int32((byte >> 4) | high1) - 16) * d
        }
    }
}

@inline(__always)
func dequantizeQ5_1(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 24
        let y = dst + b &* 32
        let d = loadHalf(block, 0)
        let m = loadHalf(block, 2)
        let qh = loadU32(block, 4)
        let qs = (block + 8).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            let byte = UInt32(qs[j])
            let high0 = ((qh >> UInt32(j)) & 1) << 4
            let high1 = ((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = Float((byte & 0x0F) | high0) * d + m
            y[j + 16] = Float((byte >> 4) | high1) * d + m
        }
    }
}

@inline(__always)
func dequantizeQ8_1(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 36
        let y = dst + b &* 32
        let d = loadHalf(block, 0)
        let qs = (block + 4).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { y[j] = Float(qs[j]) * d }
    }
}
