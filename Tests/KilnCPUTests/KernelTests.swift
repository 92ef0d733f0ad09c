@testable import KilnCPU
import KilnGraph
import KilnTensor
import Testing

/// Deterministic pseudo-random floats in [-1, 1).
func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) * 0x1p-23 - 1
    }
}

@Suite struct GemmTests {
    func naive(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Float] {
        (0..<(m * n)).map { index in
            let i = index / n, j = index % n
            return (0..<k).reduce(Float(0)) { $0 + a[i * k + $1] * b[j * k + $1] }
        }
    }

    /// Every kernel this CPU can run: AVX-512, AVX2 and the baseline, where available.
    static let vectorLevels = ([512, 256, 128] as [Int32]).filter { $0 <= cpuVectorBits }

    @Test(arguments: vectorLevels, [(1, 5, 3), (3, 37, 19), (17, 64, 130), (6, 1000, 576), (5, 23, 16)])
    func transposedGemmMatchesNaive(vectorBits: Int32, size: (m: Int, n: Int, k: Int)) {
        let (m, n, k) = size
        let a = randomFloats(m * k, seed: 1), b = randomFloats(n * k, seed: 2)
        var c = [Float](repeating: .nan, count: m * n)
        b.withUnsafeBytes { bBytes in
            let matrix = WeightMatrix(format: .f32, base: bBytes.baseAddress!, rows: n, columns: k)
            c.withUnsafeMutableBufferPointer { gemmTransposedB(a: a, m: m, b: matrix, c: $0.baseAddress!, variant: GemmVariant(vectorBits: vectorBits, threads: workerCount)) }
        }
        let expected = naive(a, b, m: m, n: n, k: k)
        #expect(zip(c, expected).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test(arguments: vectorLevels)
    func bfloat16WeightsEqualTheirWidenedValues(vectorBits: Int32) {
        let m = 5, n = 21, k = 45
        let a = randomFloats(m * k, seed: 3)
        let bits = randomFloats(n * k, seed: 4).map(bfloat16Bits(from:))
        let widened = bits.map(floatFromBFloat16Bits)
        var c = [Float](repeating: 0, count: m * n)
        bits.withUnsafeBytes { bBytes in
            let matrix = WeightMatrix(format: .bf16, base: bBytes.baseAddress!, rows: n, columns: k)
            c.withUnsafeMutableBufferPointer { gemmTransposedB(a: a, m: m, b: matrix, c: $0.baseAddress!, variant: GemmVariant(vectorBits: vectorBits, threads: workerCount)) }
        }
        let expected = naive(a, widened, m: m, n: n, k: k)
        #expect(zip(c, expected).allSatisfy { abs($0 - $1) < 1e-4 })
    }

    @Test func plainGemmMatchesNaive() {
        let m = 4, k = 7, n = 5
        let a = randomFloats(m * k, seed: 5), b = randomFloats(k * n, seed: 6)
        var c = [Float](repeating: 0, count: m * n)
        c.withUnsafeMutableBufferPointer { gemm(a: a, m: m, k: k, b: b, n: n, c: $0.baseAddress!) }
        for i in 0..<m {
            for j in 0..<n {
                let expected = (0..<k).reduce(Float(0)) { $0 + a[i * k + $1] * b[$1 * n + j] }
                #expect(abs(c[i * n + j] - expected) < 1e-5)
            }
        }
    }
}

@Suite struct ElementwiseTests {
    @Test func rmsNormMatchesDefinition() {
        let x = randomFloats(12, seed: 7), w = randomFloats(6, seed: 8)
        var out = [Float](repeating: 0, count: 12)
        out.withUnsafeMutableBufferPointer { rmsNorm(x, rows: 2, width: 6, weight: w, eps: 1e-5, $0.baseAddress!) }
        for r in 0..<2 {
            let row = x[(r * 6)..<(r * 6 + 6)]
            let scale = 1 / (row.reduce(0) { $0 + $1 * $1 } / 6 + 1e-5).squareRoot()
            for i in 0..<6 { #expect(abs(out[r * 6 + i] - w[i] * row[r * 6 + i] * scale) < 1e-5) }
        }
    }

    @Test func biasBroadcastsOverRows() {
        let a: [Float] = [1, 2, 3, 4, 5, 6], bias: [Float] = [10, 20, 30]
        var out = [Float](repeating: 0, count: 6)
        out.withUnsafeMutableBufferPointer { add(a, count: 6, bias, bCount: 3, $0.baseAddress!) }
        #expect(out == [11, 22, 33, 14, 25, 36])
    }
}

/// Block-quantized weights (GGUF Q4_0, Q4_1, Q8_0) read in place equal their dequantized
/// values multiplied in float32.
@Suite struct BlockQuantizedGemmTests {
    /// Random blocks with fp16 scales that are exact.
    func blocks(_ dtype: DType, rows: Int, columns: Int, seed: UInt64) -> [UInt8] {
        var bytes = randomFloats(dtype.byteCount(elements: rows * columns)!, seed: seed).map { UInt8(truncatingIfNeeded: Int(($0 + 1) * 127)) }
        for block in 0..<(rows * columns / 32) {
            let base = block * dtype.byteSize
            let d = halfBits(from: Float(block % 7 + 1) / 64), m = halfBits(from: -Float(block % 5) / 8)
            bytes[base] = UInt8(d & 0xFF)
            bytes[base + 1] = UInt8(d >> 8)
            if dtype == .q4_1 {
                bytes[base + 2] = UInt8(m & 0xFF)
                bytes[base + 3] = UInt8(m >> 8)
            }
        }
        return bytes
    }

    @Test(arguments: GemmTests.vectorLevels, [DType.q4_0, .q4_1, .q8_0])
    func blockWeightsEqualTheirDequantizedValues(vectorBits: Int32, dtype: DType) {
        let n = 13, k = 96
        let bytes = blocks(dtype, rows: n, columns: k, seed: 9)
        var widened = [Float](repeating: 0, count: n * k)
        bytes.withUnsafeBytes { raw in widened.withUnsafeMutableBufferPointer { dequantizeBlocks(raw, dtype: dtype, count: n * k, into: $0) } }
        for m in [1, 2, 7] {
            let a = randomFloats(m * k, seed: 10)
            var c = [Float](repeating: .nan, count: m * n)
            bytes.withUnsafeBytes { raw in
                let matrix = WeightMatrix(format: dtype, base: raw.baseAddress!, rows: n, columns: k)
                c.withUnsafeMutableBufferPointer { gemmTransposedB(a: a, m: m, b: matrix, c: $0.baseAddress!, variant: GemmVariant(vectorBits: vectorBits, threads: workerCount)) }
                var row = [Float](repeating: 0, count: k)
                row.withUnsafeMutableBufferPointer { matrix.widenRow(5, into: $0.baseAddress!) }
                #expect(row == Array(widened[(5 * k)..<(6 * k)]))
            }
            let expected = GemmTests().naive(a, widened, m: m, n: n, k: k)
            #expect(zip(c, expected).allSatisfy { abs($0 - $1) < 1e-4 }, "m = \(m)")
        }
    }

    @Test func dequantizationFollowsTheBlockLayouts() {
        // one block each: scale 0.5 (fp16 0x3800), Q4_1 minimum −1 (0xBC00)
        var q40: [UInt8] = [0x00, 0x38] + [UInt8](repeating: 0, count: 16)
        q40[2] = 0x9F  // element 0: low nibble 15 → (15 − 8)·0.5; element 16: high nibble 9 → 0.5
        var q41: [UInt8] = [0x00, 0x38, 0x00, 0xBC] + [UInt8](repeating: 0, count: 16)
        q41[4 + 3] = 0x42  // element 3: 2·0.5 − 1 = 0; element 19: 4·0.5 − 1 = 1
        var q80: [UInt8] = [0x00, 0x38] + [UInt8](repeating: 0, count: 32)
        q80[2 + 31] = 0x80  // element 31: −128·0.5
        func widen(_ bytes: [UInt8], _ dtype: DType) -> [Float] {
            var out = [Float](repeating: .nan, count: 32)
            bytes.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { dequantizeBlocks(raw, dtype: dtype, count: 32, into: $0) } }
            return out
        }
        let a = widen(q40, .q4_0), b = widen(q41, .q4_1), c = widen(q80, .q8_0)
        #expect(a[0] == 3.5 && a[16] == 0.5 && a[1] == -4)
        #expect(b[3] == 0 && b[19] == 1 && b[0] == -1)
        #expect(c[31] == -64 && c[0] == 0)
    }
}
