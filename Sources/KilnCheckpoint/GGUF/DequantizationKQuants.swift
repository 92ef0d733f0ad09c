// The 256-element "k-quant" super-block formats of ggml (Q2_K … Q6_K, Q8_K).
// Layouts (ggml-common.h, QK_K = 256; d/dmin fp16 except Q8_K's fp32 d):
//   Q2_K: scales[16], qs[64], d, dmin                  16 sub-blocks of 16; 2-bit quants
//   Q3_K: hmask[32], qs[64], scales[12], d              16 sub-blocks of 16; 2 low bits + 1 high bit
//   Q4_K: d, dmin, scales[12], qs[128]                  8 sub-blocks of 32; 6-bit scale/min pairs
//   Q5_K: d, dmin, scales[12], qh[32], qs[128]          as Q4_K plus a 5th bit
//   Q6_K: ql[128], qh[64], scales[16] (int8), d         16 sub-blocks of 16; 4 low + 2 high bits
//   Q8_K: d (fp32), qs[256] (int8), bsums[16] (int16)   q*d

/// Q2_K: each scales byte holds a sub-block's scale (low nibble, × d) and min (high nibble,
/// × dmin); value = d*sc*q - dmin*m. Each 32 bytes of qs serve 128 elements: the four 2-bit
/// fields of byte l (shift 0, 2, 4, 6) go to four successive groups of 32.
@inline(__always)
func dequantizeQ2_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 84
        var y = dst + b &* 256
        let scales = block.assumingMemoryBound(to: UInt8.self)
        var q = (block + 16).assumingMemoryBound(to: UInt8.self)
        let d = loadHalf(block, 80)
        let dmin = loadHalf(block, 82)
        var scaleIndex = 0
        for _ in 0..<2 {  // two halves of 128 elements
            var shift: UInt8 = 0
            for _ in 0..<4 {
                for half in 0..<2 {  // q[0..<16] then q[16..<32]
                    let sc = scales[scaleIndex]
                    scaleIndex &+= 1
                    let dl = d * Float(sc & 0x0F)
                    let ml = dmin * Float(sc >> 4)
                    let qq = q + half &* 16
                    for l in 0..<16 { y[l] = dl * Float((qq[l] >> shift) & 3) - ml }
                    y += 16
                }
                shift &+= 2
            }
            q += 32
        }
    }
}

/// Q3_K: 3-bit quants = 2 low bits from qs (as in Q2_K) minus 4 where the hmask bit is CLEAR.
/// hmask byte l, bit k, belongs to group k (of 32) at position l. The 16 signed 6-bit scales
/// (stored +32) pack low nibbles in bytes 0..7 (scale i<8: low nibble of byte i; i>=8: high
/// nibble of byte i-8) and high 2-bit pairs in bytes 8..11 (scale i: bits 2*(i/4) of byte 8+i%4).
@inline(__always)
func dequantizeQ3_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 110
        var y = dst + b &* 256
        let hmask = block.assumingMemoryBound(to: UInt8.self)
        var q = (block + 32).assumingMemoryBound(to: UInt8.self)
        let packed = (block + 96).assumingMemoryBound(to: UInt8.self)
        let d = loadHalf(block, 108)

        var scales: (Float, Float, Float, Float, Float, Float, Float, Float,
                     Float, Float, Float, Float, Float, Float, Float, Float) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &scales) { raw in
            let s = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            for i in 0..<16 {
                let low = i < 8 ? packed[i] & 0x0F : packed[i - 8] >> 4
                let high = (packed[8 + i & 3] >> UInt8(2 * (i >> 2))) & 3
                s[i] = d * Float(Int32(low | high << 4) - 32)
            }
        }

        withUnsafeBytes(of: &scales) { raw in
            let s = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            var scaleIndex = 0
            var mask: UInt8 = 1
            for _ in 0..<2 {
                var shift: UInt8 = 0
                for _ in 0..<4 {
                    for half in 0..<2 {
                        let dl = s[scaleIndex]
                        scaleIndex &+= 1
                        let qq = q + half &* 16
                        let hm = hmask + half &* 16
                        for l in 0..<16 {
                            let low = Int32((qq[l] >> shift) & 3)
                            let value = hm[l] & mask != 0 ? low : low - 4
                            y[l] = dl * Float(value)
                        }
                        y += 16
                    }
                    shift &+= 2
                    mask <<= 1
                }
                q += 32
            }
        }
    }
}

/// ggml's `get_scale_min_k4`: the j-th (0..<8) 6-bit scale and min of Q4_K/Q5_K from the
/// 12 packed bytes. j<4: low 6 bits of bytes j and j+4. j>=4: low/high nibble of byte j+4,
/// topped with the 2 spare high bits of bytes j-4 / j.
@inline(__always)
func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
    if j < 4 {
        return (q[j] & 63, q[j + 4] & 63)
    }
    return ((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
}

/// Q4_K: four chunks of 64 elements; chunk c uses 32 bytes of qs, low nibbles for its first
/// 32 elements (sub-block 2c) and high nibbles for the next 32 (sub-block 2c+1).
/// value = d*sc*q - dmin*m.
@inline(__always)
func dequantizeQ4_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 144
        var y = dst + b &* 256
        let d = loadHalf(block, 0)
        let dmin = loadHalf(block, 2)
        let packed = UnsafePointer((block + 4).assumingMemoryBound(to: UInt8.self))
        var q = (block + 16).assumingMemoryBound(to: UInt8.self)
        for chunk in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * chunk, packed)
            let (sc2, m2) = scaleMinK4(2 * chunk + 1, packed)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            for l in 0..<32 { y[l] = d1 * Float(q[l] & 0x0F) - min1 }
            for l in 0..<32 { y[l + 32] = d2 * Float(q[l] >> 4) - min2 }
            y += 64
            q += 32
        }
    }
}

/// Q5_K: Q4_K plus a 5th bit (worth 16) from qh: qh byte l, bit 2c, for element l of chunk c's
/// first sub-block; bit 2c+1 for its second.
@inline(__always)
func dequantizeQ5_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 176
        var y = dst + b &* 256
        let d = loadHalf(block, 0)
        let dmin = loadHalf(block, 2)
        let packed = UnsafePointer((block + 4).assumingMemoryBound(to: UInt8.self))
        let qh = (block + 16).assumingMemoryBound(to: UInt8.self)
        var ql = (block + 48).assumingMemoryBound(to: UInt8.self)
        var u1: UInt8 = 1, u2: UInt8 = 2
        for chunk in 0..<4 {
            let (sc1, m1) = scaleMinK4(2 * chunk, packed)
            let (sc2, m2) = scaleMinK4(2 * chunk + 1, packed)
            let d1 = d * Float(sc1), min1 = dmin * Float(m1)
            let d2 = d * Float(sc2), min2 = dmin * Float(m2)
            for l in 0..<32 {
                let v = (ql[l] & 0x0F) | (qh[l] & u1 != 0 ? 16 : 0)
                y[l] = d1 * Float(v) - min1
            }
            for l in 0..<32 {
                let v = (ql[l] >> 4) | (qh[l] & u2 != 0 ? 16 : 0)
                y[l + 32] = d2 * Float(v) - min2
            }
            y += 64
            ql += 32
            u1 <<= 2
            u2 <<= 2
        }
    }
}

/// Q6_K: two halves of 128 elements, each using 64 bytes of ql, 32 of qh and 8 scales.
/// For l in 0..<32: elements l, l+32, l+64, l+96 take low nibble of ql[l], low of ql[l+32],
/// high of ql[l], high of ql[l+32], and 2-bit fields 0, 1, 2, 3 of qh[l]; minus 32.
/// Sub-block of 16 → int8 scale; value = d * scale * q.
@inline(__always)
func dequantizeQ6_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 210
        var y = dst + b &* 256
        var ql = block.assumingMemoryBound(to: UInt8.self)
        var qh = (block + 128).assumingMemoryBound(to: UInt8.self)
        var sc = (block + 192).assumingMemoryBound(to: Int8.self)
        let d = loadHalf(block, 208)
        for _ in 0..<2 {
            for l in 0..<32 {
                let s = l >> 4
                let h = qh[l]
                let q1 = Int32((ql[l] & 0x0F) | ((h & 3) << 4)) - 32
                let q2 = Int32((ql[l + 32] & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int32((ql[l] >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int32((ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)) - 32
                y[l] = d * Float(sc[s]) * Float(q1)
                y[l + 32] = d * Float(sc[s + 2]) * Float(q2)
                y[l + 64] = d * Float(sc[s + 4]) * Float(q3)
                y[l + 96] = d * Float(sc[s + 6]) * Float(q4)
            }
            y += 128
            ql += 64
            qh += 32
            sc += 8
        }
    }
}

/// Q8_K: fp32 d, int8 quants; value = d * q (bsums only serve dot products).
@inline(__always)
func dequantizeQ8_K(_ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
    for b in 0..<blocks {
        let block = src + b &* 292
        let y = dst + b &* 256
        let d = Float(bitPattern: loadU32(block, 0))
        let qs = (block + 4).assumingMemoryBound(to: Int8.self)
        for j in 0..<256 { y[j] = d * Float(qs[j]) }
    }
}
