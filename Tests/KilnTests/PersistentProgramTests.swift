// How a one-row decode step's launches become the persistent kernel's stage records (no GPU
// needed): the records carry the launches' own arguments where persistent.cu reads them, and
// a step with a launch the kernel has no stage for is refused (it keeps its kernels).

@testable import KilnCUDA
import Testing

@Suite struct PersistentProgramTests {
    static let blocks = 132

    static func embedding() -> KernelLaunch {
        KernelLaunch(name: "embedding", grid: (1, 1, 1), sharedBytes: 0,
                     arguments: [.pointer(0x1000), .pointer(0x2000), .pointer(0x3000), .pointer(0x3100), .pointer(0x3200), .int(2048)])
    }

    static func rmsNormGemv(rows m: Int32 = 1, k: Int32 = 2048) -> KernelLaunch {
        KernelLaunch(name: "gemv_rms_norm_m\(m)", grid: (132, 1, 1), sharedBytes: Int(m * k * 2), arguments: [
            .pointer(0x4000), .int(0), .pointer(0x1000), .pointer(0), .pointer(0), .pointer(0x5000), .float(1e-5), .pointer(0x6000),
            .int(m), .int(3072), .int(k), .int(1),
        ])
    }

    static func attention(splits: Int32 = 17) -> KernelLaunch {
        KernelLaunch(name: "decode_attention_g4", grid: (1, 8, Int(splits)), sharedBytes: 16384, arguments: [
            .pointer(0x7000), .pointer(0x7100), .pointer(0x7200), .pointer(0x7300), .pointer(0x4000), .pointer(0x4800), .pointer(0x4a00),
            .int(3072), .int(3072), .int(3072), .pointer(0x3300), .pointer(0x3400), .pointer(0x3500), .int(64), .int(16),
            .pointer(0x7400), .float(1), .int(1), .int(32), .int(8), .int(64), .float(0.125), .int(0), .int(splits), .int(1),
        ])
    }

    static func swigluGemv() -> KernelLaunch {
        KernelLaunch(name: "gemv_ew_abc_m1", grid: (132, 1, 1), sharedBytes: 16384, arguments: [
            .pointer(0x8000), .int(0), .pointer(0x9000), .int(1), .int(2048), .int(8192), .int(2),
            .pointer(0xa000), .int(8192), .int(16384), .pointer(0xa000 + 16384), .int(8192), .int(16384),
        ])
    }

    /// A record's field: int32 `index` of the ints (offset 112), pointers at 16, floats at 176.
    static func int(_ program: PersistentProgram, record: Int, _ index: Int) -> Int32 {
        program.records.withUnsafeBytes { $0.load(fromByteOffset: record * 192 + 112 + 4 * index, as: Int32.self) }
    }

    static func pointer(_ program: PersistentProgram, record: Int, _ index: Int) -> UInt64 {
        program.records.withUnsafeBytes { $0.load(fromByteOffset: record * 192 + 16 + 8 * index, as: UInt64.self) }
    }

    @Test func aLlamaStepBecomesOneRecordPerLaunch() throws {
        let launches = [Self.embedding(), Self.rmsNormGemv(), Self.attention(), Self.swigluGemv()]
        let program = try #require(PersistentProgram(launches, prologues: ["gemv_ew_zzz", "gemv_ew_abc"], blocks: Self.blocks))
        #expect(program.count == 4 && program.records.count == 4 * PersistentProgram.recordBytes)
        // kinds and variants: embedding, RMSNorm GEMV, attention (group 4), elementwise prologue 1
        let heads = program.records.withUnsafeBytes { bytes in (0..<4).map { (bytes.load(fromByteOffset: $0 * 192, as: Int32.self), bytes.load(fromByteOffset: $0 * 192 + 4, as: Int32.self)) } }
        #expect(heads.map(\.0) == [0, 1, 2, 1] && heads.map(\.1) == [0, 1, 4, 3])
        // the GEMV: y, w, then x, residual, sum, norm weight; y_is_f32, m, n, k
        #expect((0..<6).map { Self.pointer(program, record: 1, $0) } == [0x4000, 0x6000, 0x1000, 0, 0, 0x5000])
        #expect((0..<4).map { Self.int(program, record: 1, $0) } == [0, 1, 3072, 2048])
        // attention's 17 splits of 8 KV heads would leave 136 blocks for 132: 16 fill the grid once
        #expect(Self.int(program, record: 2, 10) == 16 && Self.int(program, record: 2, 11) == 1)
        // and so do a cluster's 8 (a Hopper launch's most)
        let clustered = try #require(PersistentProgram([Self.attention(splits: 8)], prologues: [], blocks: Self.blocks))
        #expect(Self.int(clustered, record: 0, 10) == 16)
        // the elementwise operands and their widths and strides
        #expect((2..<4).map { Self.pointer(program, record: 3, $0) } == [0xa000, 0xa000 + 16384])
        #expect((4..<8).map { Self.int(program, record: 3, $0) } == [8192, 16384, 8192, 16384])
        // the ring: whole down-projection rows (16 KiB) a slot, one reader a slot, within the budget
        #expect(program.slotBytes >= 8192 * 2 && program.stagedBytes >= 16384)
        #expect(program.sharedBytes <= PersistentProgram.sharedBudget && program.slots % program.readers == 0)
    }

    @Test func launchesWithoutAStageKeepTheirKernels() {
        let prologues = ["gemv_ew_abc"]
        let norm = KernelLaunch(name: "rms_norm", grid: (1, 1, 1), sharedBytes: 0, arguments: [.pointer(1), .pointer(2), .pointer(3), .int(64), .float(1e-5)])
        let blas = KernelLaunch(name: "cuBLASLt", grid: (0, 0, 0), sharedBytes: 0, arguments: [])
        #expect(PersistentProgram([Self.embedding(), norm], prologues: prologues, blocks: Self.blocks) == nil)
        #expect(PersistentProgram([Self.embedding(), blas], prologues: prologues, blocks: Self.blocks) == nil)
        // two rows, and an elementwise prologue the module was not built with
        #expect(PersistentProgram([Self.rmsNormGemv(rows: 2)], prologues: prologues, blocks: Self.blocks) == nil)
        #expect(PersistentProgram([Self.swigluGemv()], prologues: [], blocks: Self.blocks) == nil)
        // a launch with arguments of the wrong kind
        let malformed = KernelLaunch(name: "embedding", grid: (1, 1, 1), sharedBytes: 0, arguments: [.int(0)])
        #expect(PersistentProgram([malformed], prologues: prologues, blocks: Self.blocks) == nil)
    }

    /// Rows wider than a slot's share of the budget leave too short a ring: the step keeps its kernels.
    @Test func rowsTooWideForTheRingKeepTheirKernels() {
        #expect(PersistentProgram([Self.rmsNormGemv(k: 32768)], prologues: [], blocks: Self.blocks) == nil)
        #expect(PersistentProgram([Self.rmsNormGemv(k: 8192)], prologues: [], blocks: Self.blocks) != nil)
    }
}
