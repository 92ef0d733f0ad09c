// One-row decode steps as one persistent kernel (persistent.cu). The step's launches are
// recorded as the kernel-per-stage path makes them, then translated stage by stage into the
// records the persistent kernel runs: the same pointers and arguments, so both paths compute
// the same step. A step with a launch the kernel has no stage for keeps the kernel-per-stage path.

/// A kernel launch as the kernel-per-stage path queues it.
struct KernelLaunch {
    let name: String
    let grid: (Int, Int, Int)
    let sharedBytes: Int
    let arguments: [KernelArgument]
}

/// The stage records of a one-row decode step and the persistent kernel's shared-memory layout.
struct PersistentProgram {
    /// PersistentOp records (192 bytes each), in launch order.
    let records: [UInt8]
    /// What each stage is (for profiles).
    let labels: [String]
    /// Bytes before the ring: the largest staged x ([m, k] bf16) or attention key-lane sums.
    let stagedBytes: Int
    /// Ring slots and their size (at least the widest weight row).
    let slotBytes: Int
    let slots: Int

    static let recordBytes = 192
    /// Dynamic shared memory a block may take (Hopper's 227 KiB, less the kernel's static arrays).
    static let sharedBudget = 200 << 10
    /// A slot's size where rows are narrower: a few rows a bulk copy.
    static let slotTarget = 16 << 10
    /// PERSISTENT_MAX_SLOTS of persistent.cu.
    static let maxSlots = 32

    /// Warps that read the ring (of the kernel's consumer warps), dividing the slots: each
    /// slot has one reader.
    let readers: Int

    var count: Int { labels.count }
    var sharedBytes: Int { stagedBytes + slots * slotBytes }

    /// Translates `launches`, or nil where one has no persistent stage. `prologues`: the
    /// elementwise GEMV prologues the kernel dispatches (their GEMVs' names, by index);
    /// `blocks`: the persistent grid (one block per SM), over which attention's splits spread.
    init?(_ launches: [KernelLaunch], prologues: [String], blocks: Int) {
        var stages: [Record] = [], staged = 0, widestRow = 0, labels: [String] = []
        for launch in launches {
            guard let record = Record(launch, prologues: prologues, blocks: blocks) else { return nil }
            labels.append(record.label)
            if record.kind == Record.gemv {
                let (m, k) = (Int(record.ints[1]), Int(record.ints[3]))
                guard m == 1 else { return nil }
                staged = max(staged, m * k * 2)
                widestRow = max(widestRow, k * 2)
            } else if record.kind == Record.attention {
                staged = max(staged, launch.sharedBytes)
            }
            stages.append(record)
        }
        staged = (staged + 127) / 128 * 128
        let slotBytes = max(Self.slotTarget, (widestRow + 127) / 128 * 128)
        let fitting = min(PersistentProgram.maxSlots, (Self.sharedBudget - staged) / slotBytes)
        // a ring too short to keep a few rows in flight gains nothing over the kernels
        guard fitting >= 4 else { return nil }
        // readers divide the slots: the count that keeps the most slots (then the most readers)
        let consumers = CUDAKernelLibrary.persistentConsumers / 32
        let readers = (1...consumers).max { (fitting / $0 * $0, $0) < (fitting / $1 * $1, $1) }!
        let slots = fitting / readers * readers
        // a GEMV's rows a fill: as few as give every reader a fill where the block's rows allow
        // (a block's share of a small GEMV is then summed by all its readers at once, not a slot's
        // worth by each of a few: q|k|v 12.3 → 9.2 µs a layer, o 5.6 → 4.5 on an H200), at most a slot's
        var records: [UInt8] = []
        for var record in stages {
            if record.kind == Record.gemv {
                let (n, rowBytes) = (Int(record.ints[2]), Int(record.ints[3]) * 2)
                let blockRows = (n + blocks - 1) / blocks
                record.fill = Int32(max(1, min(slotBytes / rowBytes, (blockRows + readers - 1) / readers)))
            }
            record.append(to: &records)
        }
        self.records = records
        self.labels = labels
        stagedBytes = staged
        self.slotBytes = slotBytes
        self.slots = slots
        self.readers = readers
    }

    /// One PersistentOp: kind, variant, rows a fill, 12 pointers, 16 ints, 4 floats.
    struct Record {
        static let embedding: Int32 = 0, gemv: Int32 = 1, attention: Int32 = 2
        static let copy: Int32 = 0, rmsNorm: Int32 = 1, elementwise: Int32 = 2

        var kind: Int32, variant: Int32 = 0
        /// A GEMV's rows a ring fill.
        var fill: Int32 = 0
        var pointers: [UInt64] = [], ints: [Int32] = [], floats: [Float] = []

        init?(_ launch: KernelLaunch, prologues: [String], blocks: Int) {
            let a = launch.arguments
            func pointer(_ i: Int) -> UInt64? { if i < a.count, case .pointer(let p) = a[i] { p } else { nil } }
            func int(_ i: Int) -> Int32? { if i < a.count, case .int(let v) = a[i] { v } else { nil } }
            func float(_ i: Int) -> Float? { if i < a.count, case .float(let v) = a[i] { v } else { nil } }
            func pointers(_ range: Range<Int>) -> [UInt64]? { let p = range.compactMap(pointer); return p.count == range.count ? p : nil }
            func intArguments(_ range: Range<Int>) -> [Int32]? { let v = range.compactMap(int); return v.count == range.count ? v : nil }
            let name = launch.name
            if name == "embedding" {
                guard a.count == 6, let p = pointers(0..<5), let width = int(5) else { return nil }
                kind = Self.embedding
                self.pointers = p
                ints = [width, Int32(launch.grid.0)]
            } else if name.hasPrefix("decode_attention_g"), let group = Int32(name.dropFirst("decode_attention_g".count)) {
                // the launch's pointers: 0–6, 10–12, 15; ints: 7–9, 13, 14, 17–20, 22–24; floats: 16, 21 (the
                // persistent kernel runs the kernel's generic path, whatever int 24 asks)
                guard a.count == 25, let p = pointers(0..<7), let metadata = pointers(10..<13), let frequencies = pointer(15),
                      let strides = intArguments(7..<10), let blocksInts = intArguments(13..<15), let heads = intArguments(17..<21), let window = int(22),
                      int(23) != nil, int(24) != nil, let factor = float(16), let scale = float(21) else { return nil }
                kind = Self.attention
                variant = group
                // the splits fill the persistent grid once, however many the launch took (a Hopper
                // launch takes at most a cluster's 8): up to the split records' room, MAX_SPLITS
                let tokens = launch.grid.0, kvHeads = launch.grid.1
                let fitted = Int32(max(1, min(CUDAKernelLibrary.maxAttentionSplits, blocks / max(1, tokens * kvHeads))))
                self.pointers = p + metadata + [frequencies]
                ints = strides + blocksInts + heads + [window, fitted, Int32(tokens)]
                floats = [factor, scale]
            } else if name.hasSuffix("_m1"), name.hasPrefix("gemv_") {
                let gemv = String(name.dropLast(3))
                kind = Self.gemv
                switch gemv {
                case "gemv_bf16":
                    // y, y_is_f32, x, w, m, n, k, parts, staged
                    guard a.count == 9, let y = pointer(0), let x = pointer(2), let w = pointer(3), let f32 = int(1),
                          let sizes = intArguments(4..<7), int(8) == 1 else { return nil }
                    variant = Self.copy
                    self.pointers = [y, w, x]
                    ints = [f32] + sizes
                case "gemv_rms_norm":
                    // y, y_is_f32, x, residual, sum, norm weight, eps, w, m, n, k, parts
                    guard a.count == 12, let y = pointer(0), let f32 = int(1), let norm = pointers(2..<6), let eps = float(6),
                          let w = pointer(7), let sizes = intArguments(8..<11) else { return nil }
                    variant = Self.rmsNorm
                    self.pointers = [y, w] + norm
                    ints = [f32] + sizes
                    floats = [eps]
                default:
                    // y, y_is_f32, w, m, n, k, parts, then (operand, width, stride) each
                    guard let index = prologues.firstIndex(of: gemv), a.count >= 7, (a.count - 7) % 3 == 0, (a.count - 7) / 3 <= 6,
                          let y = pointer(0), let f32 = int(1), let w = pointer(2), let sizes = intArguments(3..<6) else { return nil }
                    variant = Self.elementwise + Int32(index)
                    var operands: [UInt64] = [], layout: [Int32] = []
                    for first in stride(from: 7, to: a.count, by: 3) {
                        guard let operand = pointer(first), let shape = intArguments((first + 1)..<(first + 3)) else { return nil }
                        operands.append(operand)
                        layout += shape
                    }
                    self.pointers = [y, w] + operands
                    ints = [f32] + sizes + layout
                }
            } else {
                return nil
            }
        }

        var label: String {
            switch kind {
            case Self.embedding: "embedding"
            case Self.attention: "attention (kv write, attention, combine)"
            default: "GEMV \(ints[3])×\(ints[2]) (\(variant == Self.copy ? "copy" : variant == Self.rmsNorm ? "RMSNorm" : "elementwise") prologue)"
            }
        }

        func append(to bytes: inout [UInt8]) {
            func put<T>(_ value: T) { withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) } }
            put(kind); put(variant); put(fill); put(Int32(0))
            for i in 0..<12 { put(i < pointers.count ? pointers[i] : 0) }
            for i in 0..<16 { put(i < ints.count ? ints[i] : 0) }
            for i in 0..<4 { put(i < floats.count ? floats[i] : 0) }
        }
    }
}

/// A translated program on the device, ready to launch (captured in a CUDA graph).
struct PersistentDecode {
    let program: PersistentProgram
    let records: DeviceBuffer
    /// Stages finished, summed over blocks; 0 between steps.
    let counter: DeviceBuffer
    /// When each block started, finished each stage, and saw each stage's inputs done (ns, the
    /// GPU's global timer), for profiles.
    let trace: DeviceBuffer
    let device: CUDADevice

    init(_ program: PersistentProgram, device: CUDADevice) throws {
        self.program = program
        records = try device.allocate(program.records.count, purpose: "persistent decode stages")
        counter = try device.allocate(4, purpose: "persistent decode counter")
        trace = try device.allocate((2 * program.count + 1) * device.info.multiprocessors * 8, purpose: "persistent decode trace")
        self.device = device
        let address = records.address
        try program.records.withUnsafeBytes { bytes in try device.upload(bytes, to: address) }
        try device.fill(counter.address, byte: 0, count: 4)
        try device.synchronize()
    }

    /// Queues the step; `tracing`: each block records when it finished each stage.
    func launch(_ kernel: KernelFunction, on device: CUDADevice, tracing: Bool = false) throws(CUDAError) {
        try device.launch(kernel, grid: (device.info.multiprocessors, 1, 1), block: (512, 1, 1), sharedBytes: program.sharedBytes, [
            .pointer(records.address), .int(Int32(program.count)), .pointer(counter.address), .int(Int32(program.stagedBytes)),
            .int(Int32(program.slotBytes)), .int(Int32(program.slots)), .int(Int32(program.readers)), .pointer(tracing ? trace.address : 0),
        ])
    }

    /// The traced step's stages by label: each stage's time from the previous stage's end to
    /// its own, both in the last block to finish (the kernel's start: its first block's), and
    /// how long after that previous end the median block saw every block done with it (the
    /// grid-wide wait, on the step's critical path).
    func stageTimes() throws -> [(kernel: String, milliseconds: Double, launches: Int)] {
        let (blocks, count) = (device.info.multiprocessors, program.count)
        var times = [UInt64](repeating: 0, count: (2 * count + 1) * blocks)
        try times.withUnsafeMutableBytes { try device.download(from: trace.address, into: $0) }
        func stage(_ row: Int) -> ArraySlice<UInt64> { times[(row * blocks)..<((row + 1) * blocks)] }
        var previous = stage(0).min()!, totals: [String: (time: Double, wait: Double, count: Int)] = [:]
        for o in 0..<count {
            let end = stage(o + 1).max()!
            let wait = o == 0 ? 0 : Double(stage(count + 1 + o).sorted()[blocks / 2] &- previous) / 1e6
            totals[program.labels[o], default: (0, 0, 0)].time += Double(end &- previous) / 1e6
            totals[program.labels[o], default: (0, 0, 0)].wait += wait
            totals[program.labels[o], default: (0, 0, 0)].count += 1
            previous = end
        }
        return totals.map { label, total in
            let wait: Double = (total.wait / Double(total.count) * 1e5).rounded() / 100
            return (kernel: "\(label), waits \(wait) µs", milliseconds: total.time, launches: total.count)
        }.sorted { $0.milliseconds > $1.milliseconds }
    }
}
