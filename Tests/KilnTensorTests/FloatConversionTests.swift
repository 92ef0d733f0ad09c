import KilnTensor
import Testing

@Suite struct FloatConversionTests {
    @Test func bfloat16RoundsToNearestEven() {
        #expect(bfloat16Bits(from: 1.0) == 0x3F80)
        #expect(bfloat16Bits(from: Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie → even
        #expect(bfloat16Bits(from: Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie → even (up)
        #expect(bfloat16Bits(from: Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(floatFromBFloat16Bits(0xC0A0) == -5)
        #expect(floatFromBFloat16Bits(bfloat16Bits(from: .nan)).isNaN)
    }

    @Test func halfCoversNormalsSubnormalsAndInfinity() {
        let cases: [(Float, UInt16)] = [(1, 0x3C00), (-2, 0xC000), (65504, 0x7BFF), (0x1p-24, 0x0001), (0x1p-14, 0x0400),
                                        (.infinity, 0x7C00), (0, 0), (0.333251953125, 0x3555)]
        for (value, bits) in cases {
            #expect(halfBits(from: value) == bits, "\(value)")
            #expect(floatFromHalfBits(bits) == value, "\(bits)")
        }
        #expect(halfBits(from: 1 + 0x1p-11) == 0x3C00)  // tie → even
        #expect(halfBits(from: 1e6) == 0x7C00)
        #expect(floatFromHalfBits(0x7E00).isNaN)
    }

    @Test func float8E4M3DecodesItsRange() {
        #expect(floatFromFloat8E4M3Bits(0x38) == 1)
        #expect(floatFromFloat8E4M3Bits(0x7E) == 448)  // largest finite
        #expect(floatFromFloat8E4M3Bits(0x01) == 0x1p-9)  // smallest subnormal
        #expect(floatFromFloat8E4M3Bits(0xB8) == -1)
        #expect(floatFromFloat8E4M3Bits(0x7F).isNaN)
    }

    @Test func widenConvertsEveryDType() {
        let halves: [UInt16] = [0x3C00, 0xC000]
        let f16 = halves.withUnsafeBytes { HostTensor(dtype: .f16, shape: [2], copying: $0) }
        #expect(f16.floats() == [1, -2])
        let ints: [Int64] = [-3, 7]
        let i64 = ints.withUnsafeBytes { HostTensor(dtype: .i64, shape: [2], copying: $0) }
        #expect(i64.floats() == [-3, 7])
        #expect(HostTensor([1.5, 2.5], shape: [2, 1]).floats() == [1.5, 2.5])
    }
}
