import Foundation
import Testing
import KilnCheckpoint

// Hand-built blocks with expectations written from the documented ggml formulas
// (ggml-common.h / ggml-quants.c), plus reference vectors from llama.cpp's `gguf` package
// (DequantizationVectors.swift, made by Scripts/make_dequantization_vectors.py).
//
// fp16 constants used as scales, as raw bits (independent of the code under test):
//   0x3C00 = 1.0   0x3800 = 0.5   0x3400 = 0.25   0x3000 = 0.125   0x4000 = 2.0
//   0xBC00 = -1.0  0xB800 = -0.5  0xB400 = -0.25

// MARK: - Helpers

private func le16(_ bits: UInt16) -> [UInt8] { [UInt8(bits & 0xFF), UInt8(bits >> 8)] }
private func le32(_ bits: UInt32) -> [UInt8] { (0..<4).map { UInt8((bits >> (8 * UInt32($0))) & 0xFF) } }

private func run(_ type: GGMLType, _ bytes: [UInt8], count: Int, misalign: Bool = false) throws -> [Float] {
    // Optionally place the data at an odd address to check unaligned loads.
    let storage = misalign ? [0xEE] + bytes : bytes
    var out = [Float](repeating: .nan, count: count)
    // the typed error is caught inside the closures, as GGUFModel does (optimized builds
    // miscompile a typed error thrown through them)
    var failure: GGUFError?
    storage.withUnsafeBytes { raw in
        let data = misalign ? UnsafeRawBufferPointer(rebasing: raw[1...]) : raw
        out.withUnsafeMutableBufferPointer { buffer in
            do throws(GGUFError) {
                try dequantize(data, type: type, count: count, into: buffer, tensor: "t", file: "f.gguf")
            } catch { failure = error }
        }
    }
    if let failure { throw failure }
    return out
}

/// Exact comparison (== on Float) reporting the first few mismatches only.
private func expectSame(_ got: [Float], _ want: [Float], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(got.count == want.count, "\(what): count", sourceLocation: sourceLocation)
    let bad = zip(got.indices, zip(got, want)).filter { $0.1.0 != $0.1.1 }
    if !bad.isEmpty {
        let shown = bad.prefix(6).map { "[\($0.0)] got \($0.1.0) want \($0.1.1)" }.joined(separator: ", ")
        Issue.record("\(what): \(bad.count) of \(want.count) differ: \(shown)", sourceLocation: sourceLocation)
    }
}

private func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.utf8.count / 2)
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        out.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return out
}

private func hexFloats(_ hex: String) -> [Float] {
    var out: [Float] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 8)
        out.append(Float(bitPattern: UInt32(hex[index..<next], radix: 16)!))
        index = next
    }
    return out
}

/// A deterministic byte pattern that hits every bit position.
private func pattern(_ n: Int, seed: Int) -> [UInt8] {
    (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 73 &+ seed &* 29 &+ ($0 >> 3) &* 151) }
}

// MARK: - Plain types

@Test func f16Conversion() throws {
    let bits: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000, 0x7C00, 0x3555, 0x0400, 0xFC00]
    let want: [Float] = [1, -2, 65504, 0x1p-24, -0.0, .infinity, 0.333251953125, 0x1p-14, -.infinity]
    let got = try run(.f16, bits.flatMap(le16), count: bits.count, misalign: true)
    expectSame(got, want, "F16")
    #expect(got[4].sign == .minus)
}

@Test func bf16Conversion() throws {
    let bits: [UInt16] = [0x3F80, 0xC0A0, 0x7F80, 0x3E80, 0x0001, 0x4049]
    let want: [Float] = [1, -5, .infinity, 0.25, Float(bitPattern: 0x0001_0000), 3.140625]
    expectSame(try run(.bf16, bits.flatMap(le16), count: bits.count, misalign: true), want, "BF16")
}

@Test func f32AndF64Conversion() throws {
    let f32: [Float] = [1.5, -3.25, .greatestFiniteMagnitude, 0x1p-149]
    expectSame(try run(.f32, f32.flatMap { le32($0.bitPattern) }, count: 4, misalign: true), f32, "F32")

    let f64: [Double] = [0.1, -2.5, 1e300]
    let bytes = f64.flatMap { value in (0..<8).map { UInt8((value.bitPattern >> (8 * UInt64($0))) & 0xFF) } }
    expectSame(try run(.f64, bytes, count: 3, misalign: true), [Float(0.1), -2.5, .infinity], "F64")
}

@Test func integerConversion() throws {
    expectSame(try run(.i8, [0x80, 0x7F, 0x00, 0xFF], count: 4), [-128, 127, 0, -1], "I8")
    expectSame(try run(.i16, le16(0x8000) + le16(1234) + le16(0xFFFE), count: 3, misalign: true),
               [-32768, 1234, -2], "I16")
    expectSame(try run(.i32, le32(16_777_216) + le32(UInt32(bitPattern: -7)) + le32(0x7FFF_FFFF), count: 3, misalign: true),
               [16_777_216, -7, 2_147_483_648], "I32")
}

@Test func unsupportedTypeNamesTheTensor() {
    // buffers of its own, not the standard library's withUnsafe… closures (see `run`)
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 16, alignment: 16)
    let out = UnsafeMutableBufferPointer<Float>.allocate(capacity: 2)
    defer { bytes.deallocate(); out.deallocate() }
    bytes.initializeMemory(as: UInt8.self, repeating: 0)
    #expect(throws: GGUFError.unsupportedTensorType(file: "model.gguf", tensor: "blk.3.ffn_up.weight", type: "I64")) {
        try dequantize(UnsafeRawBufferPointer(bytes), type: .i64, count: 2, into: out, tensor: "blk.3.ffn_up.weight", file: "model.gguf")
    }
    let error = GGUFError.unsupportedTensorType(file: "model.gguf", tensor: "blk.3.ffn_up.weight", type: "I64")
    #expect(error.description.contains("blk.3.ffn_up.weight"))
    #expect(!canDequantize(.i64))
    #expect(GGMLType.allCases.filter { !canDequantize($0) } == [.i64])
}

@Test func emptyInputIsFine() throws {
    #expect(try run(.q4_K, [], count: 0).isEmpty)
}

@Test func blockGeometryMatchesGGMLCommon() {
    let expected: [GGMLType: (Int, Int)] = [
        .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22), .q5_1: (32, 24), .q8_0: (32, 34), .q8_1: (32, 36),
        .q2_K: (256, 84), .q3_K: (256, 110), .q4_K: (256, 144), .q5_K: (256, 176), .q6_K: (256, 210), .q8_K: (256, 292),
        .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .f64: (1, 8), .i8: (1, 1), .i16: (1, 2), .i32: (1, 4), .i64: (1, 8),
    ]
    for type in GGMLType.allCases {
        #expect(type.blockSize == expected[type]?.0, "\(type) block size")
        #expect(type.bytesPerBlock == expected[type]?.1, "\(type) bytes per block")
    }
}

// MARK: - Legacy 32-element blocks

@Test func q4_0NibbleOrderAndOffset() throws {
    // byte j: low nibble j (element j), high nibble 15-j (element j+16); value (q-8)*d
    var bytes = le16(0x3800)  // d = 0.5
    bytes += (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
    bytes += le16(0xB400)  // second block d = -0.25, every byte 0x3C: low 12, high 3
    bytes += [UInt8](repeating: 0x3C, count: 16)
    var want = [Float](repeating: 0, count: 64)
    for j in 0..<16 {
        want[j] = Float(j - 8) * 0.5
        want[j + 16] = Float(15 - j - 8) * 0.5
        want[32 + j] = Float(12 - 8) * -0.25
        want[48 + j] = Float(3 - 8) * -0.25
    }
    let got = try run(.q4_0, bytes, count: 64)
    expectSame(got, want, "Q4_0")
    #expect(got[0] == -4 && got[16] == 3.5 && got[15] == 3.5 && got[31] == -4)
    #expect(got[32] == -1 && got[48] == 1.25)
}

@Test func q4_1ScaleAndMin() throws {
    var bytes = le16(0x3400) + le16(0xBC00)  // d = 0.25, m = -1
    bytes += (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
    bytes += le16(0x4000) + le16(0x3800)  // d = 2, m = 0.5
    bytes += (0..<16).map { UInt8(15 - $0) | UInt8($0) << 4 }
    var want = [Float](repeating: 0, count: 64)
    for j in 0..<16 {
        want[j] = Float(j) * 0.25 - 1
        want[j + 16] = Float(15 - j) * 0.25 - 1
        want[32 + j] = Float(15 - j) * 2 + 0.5
        want[48 + j] = Float(j) * 2 + 0.5
    }
    let got = try run(.q4_1, bytes, count: 64, misalign: true)
    expectSame(got, want, "Q4_1")
    #expect(got[0] == -1 && got[16] == 2.75 && got[32] == 30.5 && got[63] == 30.5)
}

/// Element i's 5th bit is bit i of the little-endian u32 qh.
private let qhBits: UInt32 = 0xA5C3_0F96

@Test func q5_0FifthBit() throws {
    var bytes = le16(0x3800) + le32(qhBits)  // d = 0.5
    let qs = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
    bytes += qs
    var want = [Float](repeating: 0, count: 32)
    for i in 0..<32 {
        let nibble = i < 16 ? Int(qs[i] & 0x0F) : Int(qs[i - 16] >> 4)
        let high = Int((qhBits >> UInt32(i)) & 1)
        want[i] = Float(nibble + 16 * high - 16) * 0.5
    }
    let got = try run(.q5_0, bytes, count: 32, misalign: true)
    expectSame(got, want, "Q5_0")
    // qh bit 0 is 0 (0x96 = 1001_0110): element 0 = (0 - 16) * 0.5; bit 1 set: element 1 = (1+16-16)*0.5
    #expect(got[0] == -8 && got[1] == 0.5)
    // bit 16 is 1 (0xC3 = 1100_0011): element 16 = (15 + 16 - 16) * 0.5
    #expect(got[16] == 7.5)
}

@Test func q5_1FifthBitWithMin() throws {
    var bytes = le16(0x3400) + le16(0xB800) + le32(qhBits)  // d = 0.25, m = -0.5
    let qs = (0..<16).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    bytes += qs
    bytes += le16(0x3C00) + le16(0x3C00) + le32(~qhBits)  // second block d = 1, m = 1, qh inverted
    bytes += qs
    var want = [Float](repeating: 0, count: 64)
    for i in 0..<32 {
        let nibble = i < 16 ? Int(qs[i] & 0x0F) : Int(qs[i - 16] >> 4)
        want[i] = Float(nibble + 16 * Int((qhBits >> UInt32(i)) & 1)) * 0.25 - 0.5
        want[32 + i] = Float(nibble + 16 * Int((~qhBits >> UInt32(i)) & 1)) * 1 + 1
    }
    expectSame(try run(.q5_1, bytes, count: 64), want, "Q5_1")
}

@Test func q8_0SignedQuants() throws {
    let q1: [Int8] = (0..<32).map { Int8($0 * 8 - 128) }
    let q2: [Int8] = (0..<32).map { Int8(127 - $0 * 5) }
    let bytes = le16(0x3800) + q1.map { UInt8(bitPattern: $0) } + le16(0xB400) + q2.map { UInt8(bitPattern: $0) }
    let want = q1.map { Float($0) * 0.5 } + q2.map { Float($0) * -0.25 }
    let got = try run(.q8_0, bytes, count: 64, misalign: true)
    expectSame(got, want, "Q8_0")
    #expect(got[0] == -64 && got[32] == -31.75)
}

@Test func q8_1SignedQuants() throws {
    let q: [Int8] = (0..<32).map { Int8($0 * 7 - 100) }
    let bytes = le16(0x3400) + le16(0x4000) + q.map { UInt8(bitPattern: $0) }  // d = 0.25, s ignored
    expectSame(try run(.q8_1, bytes, count: 32), q.map { Float($0) * 0.25 }, "Q8_1")
}

// MARK: - K-quants

/// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
/// Element e: half n = e/128, group g = (e%128)/32, position p = e%32;
/// q = (qs[32n + p] >> 2g) & 3; sub-block s = e/16; value = d*sc[s]*q - dmin*m[s].
@Test func q2_K() throws {
    func block(d: UInt16, dF: Float, dmin: UInt16, dminF: Float, seed: Int) -> ([UInt8], [Float]) {
        let sc = (0..<16).map { ($0 * 5 + seed) % 16 }
        let mn = (0..<16).map { (15 - $0 + seed * 3) % 16 }
        let qs = pattern(64, seed: seed)
        var bytes = (0..<16).map { UInt8(sc[$0] | mn[$0] << 4) }
        bytes += qs + le16(d) + le16(dmin)
        var want = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            let n = e / 128, g = (e % 128) / 32, p = e % 32, s = e / 16
            let q = (Int(qs[32 * n + p]) >> (2 * g)) & 3
            want[e] = dF * Float(sc[s]) * Float(q) - dminF * Float(mn[s])
        }
        return (bytes, want)
    }
    let (b1, w1) = block(d: 0x3800, dF: 0.5, dmin: 0x3400, dminF: 0.25, seed: 1)
    let (b2, w2) = block(d: 0x4000, dF: 2, dmin: 0xB800, dminF: -0.5, seed: 6)
    expectSame(try run(.q2_K, b1 + b2, count: 512, misalign: true), w1 + w2, "Q2_K")
}

/// Q3_K: hmask[32], qs[64], scales[12], d. 16 six-bit scales stored +32: scale i's low nibble is
/// byte i (i<8) or the high nibble of byte i-8 (i>=8); its top 2 bits are bits 2*(i/4) of byte
/// 8 + i%4. Element e: n = e/128, g = (e%128)/32, p = e%32; low = (qs[32n+p] >> 2g) & 3;
/// hbit = bit (4n+g) of hmask[p]; q = low - (hbit ? 0 : 4); value = d * (scale[e/16]-32) * q.
@Test func q3_K() throws {
    func block(d: UInt16, dF: Float, seed: Int) -> ([UInt8], [Float]) {
        let stored = (0..<16).map { ($0 * 23 + seed * 11 + 5) % 64 }  // distinct 6-bit values
        var packed = [UInt8](repeating: 0, count: 12)
        for i in 0..<16 {
            let low = UInt8(stored[i] & 0x0F), high = UInt8(stored[i] >> 4)
            if i < 8 { packed[i] |= low } else { packed[i - 8] |= low << 4 }
            packed[8 + i % 4] |= high << (2 * (i / 4))
        }
        let hmask = pattern(32, seed: seed + 100)
        let qs = pattern(64, seed: seed)
        let bytes = hmask + qs + packed + le16(d)
        var want = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            let n = e / 128, g = (e % 128) / 32, p = e % 32
            let low = (Int(qs[32 * n + p]) >> (2 * g)) & 3
            let hbit = (Int(hmask[p]) >> (4 * n + g)) & 1
            let q = low - (hbit == 1 ? 0 : 4)
            want[e] = dF * Float(stored[e / 16] - 32) * Float(q)
        }
        return (bytes, want)
    }
    let (b1, w1) = block(d: 0x3400, dF: 0.25, seed: 0)
    let (b2, w2) = block(d: 0xB800, dF: -0.5, seed: 3)
    let got = try run(.q3_K, b1 + b2, count: 512, misalign: true)
    expectSame(got, w1 + w2, "Q3_K")
}

/// The 12-byte scale/min packing of Q4_K and Q5_K (ggml's get_scale_min_k4, inverted):
/// j<4: byte j = sc[j] (6 bits) + top 2 bits of sc[j+4] in bits 6-7; byte j+4 likewise for mins;
/// byte j+8 = low nibble of sc[j+4] | low nibble of m[j+4] << 4.
private func packScaleMinK4(_ sc: [Int], _ mn: [Int]) -> [UInt8] {
    var packed = [UInt8](repeating: 0, count: 12)
    for j in 0..<4 {
        packed[j] = UInt8(sc[j]) | UInt8(sc[j + 4] >> 4) << 6
        packed[j + 4] = UInt8(mn[j]) | UInt8(mn[j + 4] >> 4) << 6
        packed[j + 8] = UInt8(sc[j + 4] & 0x0F) | UInt8(mn[j + 4] & 0x0F) << 4
    }
    return packed
}

// Eight distinct 6-bit scales and mins, with high bits set in both halves.
private let kScales = [1, 63, 17, 40, 9, 55, 33, 22]
private let kMins = [60, 2, 48, 31, 37, 12, 63, 5]

/// Q4_K: d, dmin, scales[12], qs[128]. Element e: chunk c = e/64, p = e%32, upper = (e%64)>=32;
/// q = upper ? qs[32c+p] >> 4 : qs[32c+p] & 15; sub-block s = e/32; value = d*sc[s]*q - dmin*m[s].
@Test func q4_K() throws {
    func block(d: UInt16, dF: Float, dmin: UInt16, dminF: Float, rotate: Int) -> ([UInt8], [Float]) {
        let sc = (0..<8).map { kScales[($0 + rotate) % 8] }
        let mn = (0..<8).map { kMins[($0 + rotate) % 8] }
        let qs = pattern(128, seed: rotate)
        let bytes = le16(d) + le16(dmin) + packScaleMinK4(sc, mn) + qs
        var want = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            let c = e / 64, p = e % 32, upper = e % 64 >= 32, s = e / 32
            let q = upper ? Int(qs[32 * c + p]) >> 4 : Int(qs[32 * c + p]) & 15
            want[e] = dF * Float(sc[s]) * Float(q) - dminF * Float(mn[s])
        }
        return (bytes, want)
    }
    let (b1, w1) = block(d: 0x3800, dF: 0.5, dmin: 0x3400, dminF: 0.25, rotate: 0)
    let (b2, w2) = block(d: 0x3000, dF: 0.125, dmin: 0x3C00, dminF: 1, rotate: 3)
    let got = try run(.q4_K, b1 + b2, count: 512, misalign: true)
    expectSame(got, w1 + w2, "Q4_K")
    // element 0: q = low nibble of qs[0] = 0, so the value is -dmin*m[0] = -0.25 * 60
    #expect(got[0] == -15)
}

/// Q5_K: d, dmin, scales[12], qh[32], qs[128]; as Q4_K plus 16 when bit s (= e/32) of qh[e%32] is set.
@Test func q5_K() throws {
    func block(d: UInt16, dF: Float, dmin: UInt16, dminF: Float, rotate: Int) -> ([UInt8], [Float]) {
        let sc = (0..<8).map { kScales[(8 - $0 + rotate) % 8] }
        let mn = (0..<8).map { kMins[($0 + 2 * rotate) % 8] }
        let qh = pattern(32, seed: rotate + 40)
        let qs = pattern(128, seed: rotate + 7)
        let bytes = le16(d) + le16(dmin) + packScaleMinK4(sc, mn) + qh + qs
        var want = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            let c = e / 64, p = e % 32, upper = e % 64 >= 32, s = e / 32
            let low = upper ? Int(qs[32 * c + p]) >> 4 : Int(qs[32 * c + p]) & 15
            let q = low + 16 * ((Int(qh[p]) >> s) & 1)
            want[e] = dF * Float(sc[s]) * Float(q) - dminF * Float(mn[s])
        }
        return (bytes, want)
    }
    let (b1, w1) = block(d: 0x3400, dF: 0.25, dmin: 0x3800, dminF: 0.5, rotate: 1)
    let (b2, w2) = block(d: 0x4000, dF: 2, dmin: 0x3000, dminF: 0.125, rotate: 2)
    expectSame(try run(.q5_K, b1 + b2, count: 512, misalign: true), w1 + w2, "Q5_K")
}

/// Q6_K: ql[128], qh[64], scales[16] (int8), d. Element e: n = e/128, g = (e%128)/32, l = e%32;
/// byte = ql[64n + l + (g odd ? 32 : 0)], nibble = g<2 ? low : high; h = (qh[32n+l] >> 2g) & 3;
/// q = nibble + 16h - 32; value = d * scale[e/16] * q.
@Test func q6_K() throws {
    func block(d: UInt16, dF: Float, seed: Int) -> ([UInt8], [Float]) {
        let scales: [Int8] = (0..<16).map { Int8(($0 * 37 + seed * 13) % 255 - 127) }
        let ql = pattern(128, seed: seed)
        let qh = pattern(64, seed: seed + 50)
        let bytes = ql + qh + scales.map { UInt8(bitPattern: $0) } + le16(d)
        var want = [Float](repeating: 0, count: 256)
        for e in 0..<256 {
            let n = e / 128, g = (e % 128) / 32, l = e % 32
            let byte = Int(ql[64 * n + l + (g % 2 == 1 ? 32 : 0)])
            let nibble = g < 2 ? byte & 15 : byte >> 4
            let h = (Int(qh[32 * n + l]) >> (2 * g)) & 3
            want[e] = dF * Float(scales[e / 16]) * Float(nibble + 16 * h - 32)
        }
        return (bytes, want)
    }
    let (b1, w1) = block(d: 0x3800, dF: 0.5, seed: 2)
    let (b2, w2) = block(d: 0xB400, dF: -0.25, seed: 9)
    expectSame(try run(.q6_K, b1 + b2, count: 512, misalign: true), w1 + w2, "Q6_K")
}

/// Q8_K: fp32 d, int8 qs[256], int16 bsums[16] (ignored); value = d * q.
@Test func q8_K() throws {
    let q1: [Int8] = (0..<256).map { Int8(truncatingIfNeeded: $0 &* 3) }
    let q2: [Int8] = (0..<256).map { Int8(truncatingIfNeeded: 255 - $0) }
    let bsums = [UInt8](repeating: 0xAB, count: 32)
    let bytes = le32(Float(0.125).bitPattern) + q1.map { UInt8(bitPattern: $0) } + bsums
        + le32(Float(-3).bitPattern) + q2.map { UInt8(bitPattern: $0) } + bsums
    let want = q1.map { 0.125 * Float($0) } + q2.map { -3 * Float($0) }
    expectSame(try run(.q8_K, bytes, count: 512, misalign: true), want, "Q8_K")
}

// MARK: - Reference vectors from llama.cpp's gguf package

@Test(arguments: dequantizationVectors)
func referenceVector(_ vector: DequantizationVector) throws {
    let bytes = hexBytes(vector.bytesHex)
    let want = hexFloats(vector.expectedBitsHex)
    #expect(vector.type.byteCount(elements: want.count) == bytes.count)
    let got = try run(vector.type, bytes, count: want.count)
    // bit-exact, so a sign-of-zero difference counts too
    let bad = got.indices.filter { got[$0].bitPattern != want[$0].bitPattern }
    if !bad.isEmpty {
        let shown = bad.prefix(6).map { "[\($0)] got \(got[$0]) want \(want[$0])" }.joined(separator: ", ")
        Issue.record("\(vector): \(bad.count) of \(want.count) differ: \(shown)")
    }
}
