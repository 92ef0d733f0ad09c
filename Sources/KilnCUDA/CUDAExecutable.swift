// The CUDA backend: runs a built graph on one GPU. Weights live in one device allocation,
// activations in one arena at the builder's planned offsets, the KV cache in one pool sized
// from the memory left; GEMMs go to cuBLASLt, everything else to Kiln's NVRTC-compiled
// kernels. Decode steps are captured as CUDA graphs per padded batch size and replayed.

import KilnGraph
import KilnTensor
import Synchronization

/// How a graph is placed on the GPU.
public struct CUDAOptions: Sendable {
    /// Share of the device memory left after weights and activations that the KV pool takes;
    /// nil keeps the layout's block count.
    public var kvCacheFraction: Double?
    /// Whether decode steps are captured and replayed as CUDA graphs.
    public var cudaGraphs: Bool
    /// Whether GEMM algorithms are measured now (else `kernels` or cuBLASLt's first choice).
    public var autotune: Bool
    /// Where compiled kernels are kept between runs; nil compiles each time.
    public var cacheDirectory: String?
    /// Folders of compiled kernels read first (an engine's `cuda/` folder).
    public var kernelDirectories: [String] = []
    /// Whether one-row decode steps run as the persistent kernel (Hopper, bf16 graphs): true
    /// wherever it can take the step, false never; nil times it against the step's kernels
    /// and keeps the faster when `autotune`, else keeps the kernels.
    public var persistentDecode: Bool?

    public init(kvCacheFraction: Double? = nil, cudaGraphs: Bool = true, autotune: Bool = false, cacheDirectory: String? = nil) {
        self.kvCacheFraction = kvCacheFraction
        self.cudaGraphs = cudaGraphs
        self.autotune = autotune
        self.cacheDirectory = cacheDirectory
    }
}

/// A graph loaded onto a GPU, with its weights, activation arena and KV-cache pool.
public final class CUDAExecutable: Executable, @unchecked Sendable {
    public let kvCacheLayout: KVCacheLayout
    public let vocabularySize: Int
    public let limits: StepLimits
    public let device: CUDADevice
    /// The GEMM algorithms in use, by shape (measured now or taken from the engine).
    public private(set) var kernelSelection: KernelSelection
    /// The kernels compiled for this GPU (engines keep them, so they load without NVRTC).
    public var compiledKernels: [CompiledModule] { kernels.modules }
    /// Bytes on the device: weights, activation arena, KV pool.
    public let memory: (weights: Int, activations: Int, kvCache: Int)

    private let nodes: [Node]
    private let output: Int
    /// Token ids a step may hold: the embedding table's rows.
    private let embeddingRows: Int?
    private let activation: DType
    private let blas: CuBLASLt
    private let kernels: CUDAKernelLibrary
    private let elementwise: [Int: ElementwiseKernel]
    /// Norms and elementwise chains that decode GEMVs compute themselves.
    private let fusion: DecodeFusion
    /// Slices of the last dimension that only attention and elementwise kernels read: those
    /// read them in place (rows of the source's stride), so no copy is made. Node → (source, start).
    private let inPlaceSlices: [Int: (source: Int, start: Int)]
    private let plan: MemoryPlan
    private let maxBlocksPerSequence: Int
    /// Tokens of one sequence a tensor-core prefill attention block takes.
    private let flashTileTokens: Int
    /// Device addresses of weights (by node), epilogue biases (by matmul node), rotary tables
    /// (by rope or attention node).
    private let weightAddresses: [Int: UInt64]
    private let biasAddresses: [Int: UInt64]
    private let rotaryAddresses: [Int: UInt64]
    private let weightBuffer: DeviceBuffer
    private let graphsEnabled: Bool
    /// Few-row GEMMs the GEMV could take but cuBLASLt was measured faster at.
    private var smallGemmsOnBlas: Set<GemmShape> = []
    private let arena: DeviceBuffer, pool: DeviceBuffer, metadata: DeviceBuffer, partials: DeviceBuffer, sampled: DeviceBuffer
    /// Per (sequence, KV head): how many decode-attention splits have finished (the last resets it).
    private let arrivals: DeviceBuffer
    /// Greedy picks: each row's slice winners (value, index) and finished slices.
    private let argmaxScratch: DeviceBuffer
    /// Blocks that share a sampled row's vocabulary as one cluster, each keeping its slice in
    /// shared memory (`sample_rows_clustered`); nil: a block a row, its values in scratch rows
    /// after the picked ids (`sample_rows`).
    private let samplingCluster: Int?
    /// Blocks a row's greedy pick is split across (each takes a slice of at least 4096 logits).
    private let argmaxSplits: Int
    /// Logits on their way to the host.
    private let hostOutput: PinnedBuffer
    /// Two staging sets, so a step is staged while the one queued before it runs.
    private let staging: [Staging]
    /// Whether fed token ids can be read on the device: only embeddings read the ids.
    private let feedsOnDevice: Bool
    /// Launches recorded instead of queued (translating a step for the persistent kernel).
    private var recording: [KernelLaunch]?
    /// Whether one-row decode steps run as the persistent kernel (Hopper, bf16, CUDA graphs).
    private let usesPersistentDecode: Bool
    /// Whether the persistent step is timed against the step's kernels, the faster kept
    /// (else it runs wherever it can take the step).
    private let measuresOneRowDecode: Bool
    /// Whether decode graphs of few rows are timed with their GEMMs on Kiln's GEMV, on
    /// cuBLASLt and as measured shape by shape, the fastest kept (`captureDecode`).
    private let measuresGemvMix: Bool
    /// The one-row decode program in use (its buffers live as long as its graph).
    private var persistentSteps: PersistentDecode?
    /// Captured graphs and queued steps; one step is queued at a time.
    private let steps = Mutex(StepState())
    private static let graphBatchSizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]

    /// What the GPU computes in: bf16 activations and matrices with f32 accumulation (f16 with
    /// `weightType` f16), or f32 throughout for parity runs (`weightType` f32).
    public static func precision(weightType: DType? = nil) -> PrecisionPolicy {
        let activation: DType = weightType == .f32 ? .f32 : weightType == .f16 ? .f16 : .bf16
        return PrecisionPolicy(activationType: activation, matrixWeightFormats: [activation], weightType: weightType ?? .bf16)
    }

    /// Uploads `graph`'s `weights`, plans its activations for steps up to `limits`, sizes the
    /// KV pool (`options.kvCacheFraction` of what is left, or `kvCache.numBlocks`), compiles
    /// the kernels and chooses GEMM algorithms (measured, or as `kernels` recorded).
    public init(graph: Graph, weights: [String: HostTensor], kvCache: KVCacheLayout, limits: StepLimits = StepLimits(),
                kernels selection: KernelSelection = KernelSelection(), options: CUDAOptions = CUDAOptions(),
                device: CUDADevice? = nil) throws {
        let device = try device ?? CUDADevice()
        try device.makeCurrent()
        guard let output = graph.outputs.first, let width = graph.nodes[output].shape.last?.fixedSize else {
            throw CUDABackendError.unsupportedOp("a graph without a [rows, vocab] output")
        }
        let nodes = graph.nodes
        let activation = nodes.first { !$0.isWeight && $0.dtype != .f32 && $0.dtype != .i32 }?.dtype ?? .f32
        guard CUDAKernelLibrary.activationTypes.contains(activation) else {
            throw CUDABackendError.unsupportedOp("activations in \(activation): the CUDA backend computes in bf16, f16 or f32")
        }
        let attention = nodes.compactMap { $0.attention }
        // the attention kernel keeps a GQA group's queries in shared memory and its outputs in registers
        if let wide = attention.first(where: { $0.numHeads / $0.numKVHeads > 8 || $0.headDim > 256 || $0.headDim % 8 != 0 }) {
            throw CUDABackendError.unsupportedOp("\(wide): the CUDA attention kernel takes up to 8 query heads per KV head and head sizes up to 256 in multiples of 8")
        }
        // the norms keep a row in registers: up to 16 values on each of 1024 threads
        if let wide = nodes.first(where: { node in
            switch node.op {
            case .rmsNorm, .residualRMSNorm: (node.shape.last?.fixedSize ?? 0) > 16 * 1024
            default: false
            }
        }) {
            throw CUDABackendError.unsupportedOp("\(wide.op) over rows wider than 16384: the CUDA norms keep a row in registers")
        }

        // what each weight is on the device: matrices (and epilogue biases) in the activation
        // type, everything else f32 (converted one at a time as it is uploaded)
        var uploads: [(key: WeightUse, tensor: HostTensor, type: DType)] = []
        for (id, node) in nodes.enumerated() {
            switch node.op {
            case .weight(let name):
                guard let tensor = weights[name] else { throw CUDABackendError.unboundWeight(name: name) }
                let expected = node.shape.compactMap(\.fixedSize)
                guard tensor.shape == expected else { throw CUDABackendError.weightShapeMismatch(name: name, expected: expected, actual: tensor.shape) }
                uploads.append((.weight(id), tensor, graph.isMatrixOperand(id) ? activation : .f32))
            case .input:
                break
            default:
                guard node.dtype == activation || node.dtype == .f32 else {
                    throw CUDABackendError.unsupportedOp("\(node.op) computing \(node.dtype) in a graph of \(activation) activations")
                }
                if case .matmulEpilogue(_, true, _) = node.op, case .weight(let name) = nodes[node.inputs[2]].op, let bias = weights[name] {
                    uploads.append((.bias(id), bias, node.dtype))
                }
                if let rotary = node.rotary { uploads.append((.rotary(id), HostTensor(rotary.inverseFrequencies, shape: [rotary.dimension / 2]), .f32)) }
            }
        }
        let aligned = { (bytes: Int) in (bytes + 255) / 256 * 256 }
        let weightBytes = uploads.reduce(0) { $0 + aligned($1.tensor.convertedByteCount($1.type)) }
        let weightBuffer = try device.allocate(weightBytes, purpose: "the weights")
        var offset = 0
        var weightAddresses: [Int: UInt64] = [:], biasAddresses: [Int: UInt64] = [:], rotaryAddresses: [Int: UInt64] = [:]
        for (key, source, type) in uploads {
            let address = weightBuffer.address + UInt64(offset)
            let tensor = source.converted(to: type)
            try tensor.withUnsafeBytes { bytes in try device.upload(bytes, to: address) }
            try device.synchronize()  // the converted tensor is freed after this iteration
            switch key {
            case .weight(let id): weightAddresses[id] = address
            case .bias(let id): biasAddresses[id] = address
            case .rotary(let id): rotaryAddresses[id] = address
            }
            offset += aligned(tensor.byteCount)
        }

        // activations, step metadata, attention's split records, sampled ids, logits on the host
        let readers = graph.readers
        var inPlaceSlices: [Int: (source: Int, start: Int)] = [:]
        for (id, node) in nodes.enumerated() {
            guard case .slice(let axis, let start, _) = node.op, axis == node.shape.count - 1, id != output, !readers[id].isEmpty,
                  readers[id].allSatisfy({ reader in
                      (nodes[reader].attention != nil && nodes[reader].inputs.prefix(3).contains(id))
                          || ElementwiseKernel.program(of: nodes[reader].op) != nil
                  }) else { continue }
            inPlaceSlices[id] = (node.inputs[0], start)
        }
        // in-place slices take no bytes, and their readers keep the sliced value alive; so do
        // the GEMVs that compute a norm or elementwise chain themselves
        let fusion = DecodeFusion(graph, activation: activation, readers: readers)
        let plan = MemoryPlan(graph, numTokens: limits.maxNumTokens, numSeqs: limits.maxBatchSize, readInPlace: Set(inPlaceSlices.keys),
                              extraReads: fusion.extraReads)
        let arena = try device.allocate(plan.arenaBytes, purpose: "the activation arena (\(limits))")
        let maxBlocks = max(1, kvCache.numBlocks)
        // prefill attention tiles: a sequence's tokens in runs of flashTileTokens (a tile's
        // rows are its tokens times a KV head's query heads)
        let maxGroup = attention.map { $0.numHeads / $0.numKVHeads }.max() ?? 1
        let flashTileTokens = max(1, 64 / maxGroup)
        let flashTileCapacity = limits.maxNumTokens / flashTileTokens + limits.maxBatchSize
        let metadataInts = MetadataLayout(tokens: limits.maxNumTokens, sequences: limits.maxBatchSize, maxBlocks: maxBlocks).flashTiles
            + 2 * flashTileCapacity
        let metadata = try device.allocate(metadataInts * 4, purpose: "step metadata")
        let heads = attention.map { $0.numHeads * ($0.headDim + 2) }.max() ?? 0
        let partials = try device.allocate(limits.maxBatchSize * heads * CUDAKernelLibrary.maxAttentionSplits * 4, purpose: "attention split records")
        let kvHeads = attention.map(\.numKVHeads).max() ?? 0
        arrivals = try device.allocate(limits.maxBatchSize * kvHeads * 4, purpose: "attention split counters")
        try device.fill(arrivals.address, byte: 0, count: arrivals.byteCount)
        // chosen ids, then the sampler's scratch rows where it has no clusters
        let sampledRows = outputRowsCapacity(graph, output: output, limits: limits)
        let samplingCluster = Self.samplingCluster(width: width, device: device)
        let sampled = try device.allocate(limits.maxNumTokens * 4 + (samplingCluster == nil ? sampledRows * width * 4 : 0), purpose: "sampled token ids")
        argmaxSplits = min(32, (width + 4095) / 4096)
        argmaxScratch = try device.allocate(sampledRows * (argmaxSplits * 8 + 4), purpose: "greedy pick scratch")
        try device.fill(argmaxScratch.address, byte: 0, count: argmaxScratch.byteCount)
        hostOutput = try PinnedBuffer(byteCount: sampledRows * width * 4, device: device)
        staging = try (0..<2).map { _ in
            Staging(metadata: try PinnedBuffer(byteCount: metadataInts * 4, device: device),
                    choices: try PinnedBuffer(byteCount: limits.maxNumTokens * 16, device: device),
                    picks: try PinnedBuffer(byteCount: limits.maxNumTokens * 4, device: device), done: try CUDAEvent(device: device, timing: false))
        }

        // the KV pool: what is left, times the fraction; one extra block takes padded decode rows
        let elementBytes = activation.byteCount(elements: 1) ?? 4
        let blockBytes = kvCache.elementsPerBlock * elementBytes
        var layout = kvCache
        if let fraction = options.kvCacheFraction {
            let free = try device.memoryInfo().free - CuBLASLt.workspaceBytes - (64 << 20)
            layout.numBlocks = Int(Double(max(free, 0)) * fraction) / (blockBytes * kvCache.numLayers) - 1
            guard layout.numBlocks >= kvCache.numBlocks else {
                throw CUDABackendError.kvCacheTooSmall(blocks: layout.numBlocks, needed: kvCache.numBlocks, freeBytes: free)
            }
        }
        let poolBytes = (layout.numBlocks + 1) * blockBytes * layout.numLayers
        pool = try device.allocate(poolBytes, purpose: "the KV cache (\(layout.numBlocks) blocks)")

        blas = try CuBLASLt(device: device)
        var elementwise: [Int: ElementwiseKernel] = [:]
        // values stored in the activation type are `act` to the kernels, the others f32
        for (id, node) in nodes.enumerated() {
            if let program = ElementwiseKernel.program(of: node.op) {
                elementwise[id] = ElementwiseKernel(program: program, operandIsActivation: node.inputs.map { nodes[$0].dtype == activation },
                                                    outputIsActivation: node.dtype == activation)
            } else if case .matmulEpilogue(_, _, .sigmoid) = node.op {
                // the sigmoid applied in place to the GEMM's output
                elementwise[id] = ElementwiseKernel(program: ElementwiseProgram(steps: [.input(0), .activation(.sigmoid, 0)]),
                                                    operandIsActivation: [node.dtype == activation], outputIsActivation: node.dtype == activation)
            }
        }
        let compiler = KernelCompiler(nvrtc: try NVRTC(), architecture: device.info.smArchitecture, cacheDirectory: options.cacheDirectory,
                                      prebuiltDirectories: options.kernelDirectories)
        let gemvPrologues = fusion.prologues.values.compactMap { prologue in
            if case .elementwise(let node) = prologue { elementwise[node] } else { nil }
        }
        let usesPersistentDecode = options.cudaGraphs && activation == .bf16 && device.info.computeCapability.major >= 9
            && (options.persistentDecode ?? options.autotune)
        // decode attention specialized for the model's head size and the cache's block size
        let headDims = Set(attention.map(\.headDim))
        let decodeShape = device.specializesDecodeAttention && headDims.count == 1 ? (headDims.first!, kvCache.tokensPerBlock) : nil
        let kernels = try CUDAKernelLibrary(device: device, compiler: compiler, activation: activation, elementwise: Array(elementwise.values),
                                            decodeShape: decodeShape, gemvPrologues: gemvPrologues,
                                            persistentAttentionGroups: usesPersistentDecode ? Array(Set(attention.map(Self.decodeGroup))).sorted() : nil)
        self.usesPersistentDecode = usesPersistentDecode
        measuresOneRowDecode = options.persistentDecode == nil
        measuresGemvMix = options.autotune
        for name in (["gemv_bf16"] + gemvPrologues.map(\.gemvName)).flatMap(CUDAKernelLibrary.gemvVariants) {
            try device.allowSharedMemory(kernels[name], bytes: Self.maxStagedBytes)
        }
        // x, then the norm's f32 weights (k ≤ maxStagedBytes / 2 where x is staged)
        for name in CUDAKernelLibrary.gemvVariants("gemv_rms_norm") { try device.allowSharedMemory(kernels[name], bytes: 3 * Self.maxStagedBytes) }
        let decodeAttentionBytes = Dictionary(attention.map {
            ("decode_attention_g\(Self.decodeGroup($0))", Self.decodeAttentionSharedBytes($0, gathered: device.attentionClusterBlocks))
        }, uniquingKeysWith: max)
        for (name, bytes) in decodeAttentionBytes {
            try device.allowSharedMemory(kernels[name], bytes: bytes)
            if device.usesClusters && device.attentionClusterBlocks > CUDADevice.portableClusterBlocks { try device.allowNonPortableClusters(kernels[name]) }
        }
        if let blocks = samplingCluster { try device.allowSharedMemory(kernels["sample_rows_clustered"], bytes: Self.sampleSliceBytes(width: width, blocks: blocks)) }
        if activation != .f32 {
            for size in CUDAKernelLibrary.flashHeadSizes {
                try device.allowSharedMemory(kernels["flash_prefill_d\(size)"], bytes: Self.flashSharedBytes(headDim: size))
            }
        }
        self.kernels = kernels
        self.elementwise = elementwise
        self.fusion = fusion
        self.inPlaceSlices = inPlaceSlices
        self.device = device
        self.nodes = nodes
        self.output = output
        embeddingRows = graph.embeddingRows
        feedsOnDevice = nodes.indices.filter { if case .input(.tokenIds) = nodes[$0].op { true } else { false } }.allSatisfy { ids in
            readers[ids].allSatisfy { if case .embedding = nodes[$0].op { nodes[$0].inputs.count == 2 && nodes[$0].inputs[1] == ids } else { false } }
        }
        self.activation = activation
        self.vocabularySize = width
        self.limits = limits
        self.kvCacheLayout = layout
        self.plan = plan
        self.maxBlocksPerSequence = maxBlocks
        self.flashTileTokens = flashTileTokens
        self.weightAddresses = weightAddresses
        self.biasAddresses = biasAddresses
        self.rotaryAddresses = rotaryAddresses
        self.weightBuffer = weightBuffer
        self.arena = arena
        self.metadata = metadata
        self.partials = partials
        self.sampled = sampled
        self.samplingCluster = samplingCluster
        self.kernelSelection = KernelSelection()
        self.memory = (weightBytes, plan.arenaBytes, poolBytes)
        self.graphsEnabled = options.cudaGraphs
        try chooseGemmAlgorithms(selection, measure: options.autotune)
    }

    private enum WeightUse { case weight(Int), bias(Int), rotary(Int) }

    /// Runs one step and returns its logits.
    public func forward(_ step: StepInputs) throws -> HostTensor {
        try steps.withLock { state in
            let ticket = try claim(&state)
            let rows = try run(step, feeds: nil, staging: staging[ticket % 2], graphs: &state.graphs)
            let count = rows * vocabularySize
            let address = try address(of: output, numTokens: 0, numSeqs: 0)
            try device.downloadAsync(from: address, into: hostOutput.base, count: count * 4)
            try device.synchronize()
            return HostTensor(dtype: .f32, shape: [rows, vocabularySize], copying: UnsafeRawBufferPointer(start: hostOutput.base, count: count * 4))
        }
    }

    /// Runs one step and picks each row's token on the GPU (only the ids cross to the host).
    public func forward(_ step: StepInputs, choices: [TokenChoice]) throws -> [Int32] {
        try picks(of: queue(step, choices: choices, feeds: nil))
    }

    /// Queues the step, its picks and their copy to the host, and returns: the host prepares
    /// the next step while this one runs. Fed rows read their ids from the previous step's
    /// picks on the device (its embedding gathers them).
    public func queue(_ step: StepInputs, choices: [TokenChoice], feeds: TokenFeeds?) throws -> QueuedStep {
        try steps.withLock { state in
            var step = step, feedRows: [Int?]?
            if let feeds {
                guard feeds.rows.count == step.numTokens else {
                    throw CUDABackendError.invalidStep("\(feeds.rows.count) fed rows for a step of \(step.numTokens) tokens")
                }
                if feedsOnDevice && feeds.source.ticket == state.queued - 1 && state.uncollected[feeds.source.ticket] != nil {
                    feedRows = feeds.rows
                } else {
                    step = step.fed(by: feeds, picks: try collect(feeds.source, &state))
                }
            }
            let ticket = try claim(&state)
            let set = staging[ticket % 2]
            let rows = try run(step, feeds: feedRows, staging: set, graphs: &state.graphs)
            try pick(rows: rows, choices: choices, staging: set)
            state.uncollected[ticket] = rows
            return QueuedStep(ticket: ticket, rows: rows)
        }
    }

    public var queuesAsynchronously: Bool { true }

    /// Whether one-row decode steps run as the persistent kernel (known once one has run).
    public var decodesOneRowPersistently: Bool { steps.withLock { _ in persistentSteps != nil } }

    public func picks(of step: QueuedStep) throws -> [Int32] {
        if let ready = step.ready { return ready }
        return try steps.withLock { state in try collect(step, &state) }
    }

    /// Captured decode graphs, and the queued steps whose picks may still be collected.
    private struct StepState {
        /// Decode graphs by padded batch size.
        var graphs: [Int: CUDAGraph] = [:]
        /// Steps queued so far (the next one's ticket).
        var queued = 0
        /// Output rows of each queued step whose picks are still in its staging set.
        var uncollected: [Int: Int] = [:]
        /// The picks of the last steps collected, by ticket (a fed step's source is collected
        /// by `queue` when its picks must cross the host, and again by its caller).
        var collected: [Int: [Int32]] = [:]
    }

    /// What one step stages on the host: its metadata and token choices on their way up, its
    /// picks on their way down, and an event after those.
    private struct Staging {
        let metadata: PinnedBuffer, choices: PinnedBuffer, picks: PinnedBuffer
        let done: CUDAEvent
    }

    /// Takes the next ticket; its staging set is the one of the step two before it, whose
    /// picks are kept on the host first when uncollected.
    private func claim(_ state: inout StepState) throws -> Int {
        let ticket = state.queued
        state.queued += 1
        if state.uncollected[ticket - 2] != nil { _ = try collect(QueuedStep(ticket: ticket - 2, rows: 0), &state) }
        state.collected = state.collected.filter { $0.key >= ticket - 2 }
        return ticket
    }

    private func collect(_ step: QueuedStep, _ state: inout StepState) throws -> [Int32] {
        if let picks = state.collected[step.ticket] { return picks }
        guard let rows = state.uncollected.removeValue(forKey: step.ticket) else {
            throw CUDABackendError.invalidStep("the picks of queued step \(step.ticket) are gone: collect each step before queueing two more")
        }
        let set = staging[step.ticket % 2]
        try set.done.synchronize()
        let picks = Array(UnsafeBufferPointer(start: set.picks.base.assumingMemoryBound(to: Int32.self), count: rows))
        state.collected[step.ticket] = picks
        return picks
    }

    /// Queues the picks of the step's `rows` output rows into the staging set.
    private func pick(rows: Int, choices: [TokenChoice], staging set: Staging) throws {
        let logits = KernelArgument.pointer(try address(of: output, numTokens: 0, numSeqs: 0))
        if choices.allSatisfy({ $0.temperature <= 0 }) {
            // the picks land in the staging set themselves
            let rowsCapacity = argmaxScratch.byteCount / (argmaxSplits * 8 + 4)
            try launch(kernels["argmax_rows"], grid: (rows, argmaxSplits, 1), block: (512, 1, 1), [
                .pointer(sampled.address), .pointer(set.picks.deviceAddress), logits, .int(Int32(vocabularySize)),
                .pointer(argmaxScratch.address), .pointer(argmaxScratch.address + UInt64(rowsCapacity * argmaxSplits * 4)),
                .pointer(argmaxScratch.address + UInt64(rowsCapacity * argmaxSplits * 8)),
            ])
        } else {
            // TokenChoice as the kernel reads it: temperature, top_k, top_p, uniform
            let record = set.choices.base
            for row in 0..<rows {
                let choice = row < choices.count ? choices[row] : .greedy
                (record + row * 16).storeBytes(of: choice.temperature, as: Float.self)
                (record + row * 16 + 4).storeBytes(of: Int32(clamping: choice.topK), as: Int32.self)
                (record + row * 16 + 8).storeBytes(of: choice.topP, as: Float.self)
                (record + row * 16 + 12).storeBytes(of: choice.uniform, as: Float.self)
            }
            // the kernel reads the choices and writes the picks in the staging set itself: no copies
            let arguments: [KernelArgument] = [.pointer(sampled.address), .pointer(set.picks.deviceAddress), logits, .int(Int32(vocabularySize)),
                                               .pointer(set.choices.deviceAddress)]
            if let blocks = samplingCluster {
                try launch(kernels["sample_rows_clustered"], grid: (blocks, rows, 1), block: (Self.samplingThreads, 1, 1),
                           sharedBytes: Self.sampleSliceBytes(width: vocabularySize, blocks: blocks), cluster: (blocks, 1, 1), arguments)
            } else {
                try launch(kernels["sample_rows"], grid: (rows, 1, 1), block: (Self.samplingThreads, 1, 1),
                           arguments + [.pointer(sampled.address + UInt64(limits.maxNumTokens * 4))])
            }
        }
        try set.done.record()
    }

    /// Validates and queues `step` (eagerly or as a graph replay); returns its output rows.
    private func run(_ step: StepInputs, feeds: [Int?]?, staging set: Staging, graphs: inout [Int: CUDAGraph]) throws -> Int {
        try device.makeCurrent()
        if let problem = step.problem(limits: limits, layout: kvCacheLayout, maxBlocksPerSequence: maxBlocksPerSequence) {
            throw CUDABackendError.invalidStep(problem)
        }
        if let token = step.tokenOutside(vocabulary: embeddingRows) {
            throw CUDABackendError.tokenOutOfRange(token: token, vocabularySize: embeddingRows!)
        }
        let outputRows = nodes[output].shape.first?.resolved(numTokens: step.numTokens, numSeqs: step.numSeqs) ?? 1
        let decode = step.sequences.allSatisfy { $0.newTokens == 1 }
        if graphsEnabled, decode, let padded = Self.graphBatchSizes.first(where: { $0 >= step.numSeqs && $0 <= limits.maxBatchSize }) {
            try writeMetadata(step, feeds: feeds, paddedTo: padded, staging: set.metadata)
            if let graph = graphs[padded] {
                try graph.launch()
            } else {
                // the first step of a size runs eagerly (creating GEMM plans and loading every
                // kernel: a module loaded while another thread captures breaks its capture),
                // then is captured; one row runs as the persistent kernel where it can take the step
                if padded == 1, let persistent = try persistentDecode() {
                    try persistent.launch(kernels["persistent_decode"], on: device)
                    try device.synchronize()
                    let graph = try device.capture { try persistent.launch(kernels["persistent_decode"], on: device) }
                    if measuresOneRowDecode, case let kernelsGraph = try captureDecode(rows: 1),
                       try replayTime(kernelsGraph) <= replayTime(graph) {
                        graphs[padded] = kernelsGraph
                    } else {
                        graphs[padded] = graph
                        persistentSteps = persistent
                    }
                } else {
                    graphs[padded] = try captureDecode(rows: padded)
                }
            }
        } else {
            try writeMetadata(step, feeds: feeds, paddedTo: nil, staging: set.metadata)
            try enqueue(numTokens: step.numTokens, numSeqs: step.numSeqs, decode: decode)
        }
        return outputRows
    }

    /// Where a step's metadata lies in `metadata` (int32 offsets), packed for the step's size,
    /// so a small step uploads a small prefix (a captured graph keeps the addresses of its
    /// padded size): token ids, the fed rows (the previous step's output row whose pick the
    /// token takes, or -1), positions, slots, token → sequence [tokens each], the last row of
    /// each sequence [sequences], block tables [sequences × maxBlocks], prefill attention tiles.
    private struct MetadataLayout {
        let tokens: Int, sequences: Int, maxBlocks: Int
        var feeds: Int { tokens }
        var positions: Int { 2 * tokens }
        var slots: Int { 3 * tokens }
        var tokenSequence: Int { 4 * tokens }
        var lastRows: Int { 5 * tokens }
        var blockTables: Int { 5 * tokens + sequences }
        /// (first row, token count) of each tile.
        var flashTiles: Int { blockTables + sequences * maxBlocks }
    }

    private func metadataLayout(_ numTokens: Int, _ numSeqs: Int) -> MetadataLayout {
        MetadataLayout(tokens: numTokens, sequences: numSeqs, maxBlocks: maxBlocksPerSequence)
    }

    /// Tiles a step's prefill attention launches: an upper bound, as each sequence may end
    /// a tile early (the tiles past the step's have no tokens).
    private func flashTileCount(numTokens: Int, numSeqs: Int) -> Int { numTokens / flashTileTokens + numSeqs }

    /// Shared memory of the tensor-core prefill attention: q, k and v tiles of 64 rows padded by 8.
    private static func flashSharedBytes(headDim: Int) -> Int { 3 * 64 * (headDim + 8) * 2 }

    /// Whether prefill attention runs on tensor cores (16-bit activations, a head size built for).
    private func usesFlashPrefill(_ attention: AttentionPlugin) -> Bool {
        activation != .f32 && CUDAKernelLibrary.flashHeadSizes.contains(attention.headDim)
    }

    /// Fills the step's metadata in `host` and queues its upload (up to the last block-table
    /// entry in use); padded decode rows read and write the pool's spare block.
    private func writeMetadata(_ step: StepInputs, feeds: [Int?]?, paddedTo padded: Int?, staging host: PinnedBuffer) throws {
        let ints = host.base.assumingMemoryBound(to: Int32.self)
        let tokens = padded ?? step.numTokens, sequences = padded ?? step.numSeqs
        let layout = metadataLayout(tokens, sequences)
        let spare = Int32(kvCacheLayout.numBlocks)
        var row = 0, end = layout.blockTables
        for (s, sequence) in step.sequences.enumerated() {
            for _ in 0..<sequence.newTokens {
                ints[layout.tokenSequence + row] = Int32(s)
                row += 1
            }
            ints[layout.lastRows + s] = Int32(row - 1)
            let first = layout.blockTables + s * maxBlocksPerSequence, table = sequence.blockTable.prefix(maxBlocksPerSequence)
            for (b, block) in table.enumerated() { ints[first + b] = block }
            end = first + table.count
        }
        for t in 0..<step.numTokens {
            ints[t] = step.tokenIds[t]
            ints[layout.feeds + t] = Int32(feeds?[t] ?? -1)
            ints[layout.positions + t] = step.positions[t]
            ints[layout.slots + t] = step.slotMapping[t]
        }
        for t in step.numTokens..<tokens {
            (ints[t], ints[layout.feeds + t], ints[layout.positions + t]) = (0, -1, 0)
            (ints[layout.slots + t], ints[layout.tokenSequence + t]) = (spare * Int32(kvCacheLayout.tokensPerBlock), Int32(t))
        }
        for s in step.numSeqs..<sequences {
            ints[layout.lastRows + s] = Int32(s)
            ints[layout.blockTables + s * maxBlocksPerSequence] = spare
            end = layout.blockTables + s * maxBlocksPerSequence + 1
        }
        try device.upload(UnsafeRawBufferPointer(start: host.base, count: end * 4), to: metadata.address)
        guard activation != .f32, step.sequences.contains(where: { $0.newTokens > 1 }) else { return }
        let tiles = ints + layout.flashTiles
        let tileCount = flashTileCount(numTokens: step.numTokens, numSeqs: step.numSeqs)
        var tile = 0
        row = 0
        for sequence in step.sequences {
            for first in stride(from: 0, to: sequence.newTokens, by: flashTileTokens) {
                (tiles[2 * tile], tiles[2 * tile + 1]) = (Int32(row + first), Int32(min(flashTileTokens, sequence.newTokens - first)))
                tile += 1
            }
            row += sequence.newTokens
        }
        for unused in tile..<tileCount { (tiles[2 * unused], tiles[2 * unused + 1]) = (0, 0) }
        try device.upload(UnsafeRawBufferPointer(start: tiles, count: 2 * tileCount * 4), to: metadataAddress(layout.flashTiles))
    }

    private func metadataAddress(_ offset: Int) -> UInt64 { metadata.address + UInt64(offset * 4) }

    /// Where node `id`'s value lives for a step of this size.
    private func address(of id: Int, numTokens: Int, numSeqs: Int) throws -> UInt64 {
        let node = nodes[id]
        switch node.op {
        case .weight: return weightAddresses[id]!
        case .input(.tokenIds): return metadataAddress(0)
        case .input(.positions): return metadataAddress(metadataLayout(numTokens, numSeqs).positions)
        case .reshape: return try address(of: node.inputs[0], numTokens: numTokens, numSeqs: numSeqs)
        case .slice where inPlaceSlices[id] != nil:
            // its first row; readers take the rows' stride from `view`
            return try view(id, numTokens, numSeqs).0
        case .select(let index):
            return try address(of: node.inputs[0], numTokens: numTokens, numSeqs: numSeqs)
                + UInt64(index * count(id, numTokens, numSeqs) * elementBytes(id))
        default: return arena.address + UInt64(plan.offsets[id]!)
        }
    }

    private func extent(_ id: Int, _ numTokens: Int, _ numSeqs: Int) -> [Int] {
        nodes[id].shape.map { $0.resolved(numTokens: numTokens, numSeqs: numSeqs) }
    }

    private func count(_ id: Int, _ numTokens: Int, _ numSeqs: Int) -> Int { extent(id, numTokens, numSeqs).reduce(1, *) }

    private func elementBytes(_ id: Int) -> Int { nodes[id].dtype.byteCount(elements: 1) ?? 4 }

    private func gemmElement(_ dtype: DType) -> GemmElement { dtype == .bf16 ? .bf16 : dtype == .f16 ? .f16 : .f32 }

    /// Queues every kernel of the graph for a step of `numTokens` tokens in `numSeqs` sequences.
    /// `decode`: every sequence has one new token (token t is sequence t).
    /// `skipping`: nodes left out (profiling: a stage's share of the step, by difference).
    private func enqueue(numTokens: Int, numSeqs: Int, decode: Bool, skipping: (Int) -> Bool = { _ in false },
                         afterNode: ((Int) throws -> Void)? = nil) throws {
        func at(_ id: Int) throws -> KernelArgument { .pointer(try address(of: id, numTokens: numTokens, numSeqs: numSeqs)) }
        func rows(_ id: Int) -> Int { let shape = extent(id, numTokens, numSeqs); return shape.dropLast().reduce(1, *) }
        func width(_ id: Int) -> Int { extent(id, numTokens, numSeqs).last ?? 1 }
        // a norm is one block per row and latency-bound: two values a thread (ncu: 8 a thread
        // left a 2048-wide row at 9.5 µs, issue-bound on one SM)
        let normThreads = { (width: Int) in min(1024, max(32, (width / 2 + 31) / 32 * 32)) }
        for (id, node) in nodes.enumerated() where !skipping(id) {
            let inputs = node.inputs
            if let gemv = fusion.absorbedBy[id], try gemvPrologue(gemv, numTokens: numTokens, numSeqs: numSeqs, decode: decode) != nil { continue }
            switch node.op {
            case .weight, .input, .reshape, .select:
                continue
            case .matmul, .matmulEpilogue:
                try runGemm(id, numTokens: numTokens, numSeqs: numSeqs, decode: decode)
                if let kernel = elementwise[id] {
                    let n = count(id, numTokens, numSeqs)
                    try launchElementwise(kernel, out: try at(id), operands: [(try address(of: id, numTokens: numTokens, numSeqs: numSeqs), n, 0)], count: n)
                }
            case .embedding:
                // token ids fed from the previous step's picks, where a step has them
                let feeds: [KernelArgument] = feedsOnDevice
                    ? [.pointer(metadataAddress(metadataLayout(numTokens, numSeqs).feeds)), .pointer(sampled.address)] : [.pointer(0), .pointer(0)]
                try launch(kernels["embedding"], grid: (rows(id), 1, 1), block: (256, 1, 1),
                                  [try at(id), try at(inputs[0]), try at(inputs[1])] + feeds + [.int(Int32(width(id)))])
            case .rmsNorm(let eps):
                try launch(kernels["rms_norm"], grid: (rows(id), 1, 1), block: (normThreads(width(id)), 1, 1),
                                  [try at(id), try at(inputs[0]), try at(inputs[1]), .int(Int32(width(id))), .float(eps)])
            case .residualRMSNorm(let eps):
                let half = UInt64(count(id, numTokens, numSeqs) / 2 * elementBytes(id))
                let base = try address(of: id, numTokens: numTokens, numSeqs: numSeqs)
                try launch(kernels["residual_rms_norm"], grid: (rows(id) / 2, 1, 1), block: (normThreads(width(id)), 1, 1),
                                  [.pointer(base), .pointer(base + half), try at(inputs[0]), try at(inputs[1]), try at(inputs[2]),
                                   .int(Int32(width(id))), .float(eps)])
            case .rope(let rotary):
                try launch(kernels["rope"], grid: (rows(id), 1, 1), block: (256, 1, 1),
                                  [try at(id), try at(inputs[0]), try at(inputs[1]), .pointer(rotaryAddresses[id]!),
                                   .float(rotary.attentionFactor), .int(Int32(width(id))), .int(Int32(rotary.dimension))])
            case .plugin(let call):
                guard let attention = call.plugin as? AttentionPlugin else { throw CUDABackendError.unsupportedOp("plugin \(call)") }
                try runAttention(id, attention, numTokens: numTokens, numSeqs: numSeqs, decode: decode)
            case .gatherLastTokens:
                try launch(kernels[node.dtype == .f32 && activation != .f32 ? "gather_rows_f32" : "gather_rows"],
                                  grid: (numSeqs, 1, 1), block: (256, 1, 1),
                                  [try at(id), try at(inputs[0]), .pointer(metadataAddress(metadataLayout(numTokens, numSeqs).lastRows)), .int(Int32(width(id)))])
            case .slice where inPlaceSlices[id] != nil:
                continue
            case .slice(let axis, let start, let length):
                try copyRows(into: id, from: inputs[0], axis: axis, range: start..<(start + length), at: 0, numTokens: numTokens, numSeqs: numSeqs)
            case .concat(let axis):
                var offset = 0
                for input in inputs {
                    let size = extent(input, numTokens, numSeqs)[axis]
                    try copyRows(into: id, from: input, axis: axis, range: 0..<size, at: offset, numTokens: numTokens, numSeqs: numSeqs)
                    offset += size
                }
            case .add, .mul, .activation, .fusedElementwise:
                let n = count(id, numTokens, numSeqs)
                try launchElementwise(elementwise[id]!, out: try at(id), operands: try inputs.map { try view($0, numTokens, numSeqs) }, count: n)
            }
            try afterNode?(id)
        }
    }

    /// GPU time of one step by kind of kernel (GEMMs by shape): where a step's time goes.
    /// Each kernel is timed on its own (an event after each), so the sum exceeds `stepMilliseconds`,
    /// where kernels overlap. The step's KV writes happen as in `forward`.
    public func profile(_ step: StepInputs) throws -> DecodeProfile {
        try steps.withLock { state in
            try device.makeCurrent()
            if let problem = step.problem(limits: limits, layout: kvCacheLayout, maxBlocksPerSequence: maxBlocksPerSequence) {
                throw CUDABackendError.invalidStep(problem)
            }
            try writeMetadata(step, feeds: nil, paddedTo: nil, staging: staging[try claim(&state) % 2].metadata)
            // once eagerly (GEMM plans), then captured with an event after each node and
            // replayed, so the times are the GPU's alone, without the host's launch gaps
            let decode = step.sequences.allSatisfy { $0.newTokens == 1 }
            try enqueue(numTokens: step.numTokens, numSeqs: step.numSeqs, decode: decode)
            try device.synchronize()
            var marks: [(node: Int, event: CUDAEvent)] = [(-1, try CUDAEvent(device: device))]
            let graph = try device.capture {
                try marks[0].event.record(inGraph: true)
                try enqueue(numTokens: step.numTokens, numSeqs: step.numSeqs, decode: decode, afterNode: { id in
                    let event = try CUDAEvent(device: self.device)
                    try event.record(inGraph: true)
                    marks.append((id, event))
                })
            }
            try graph.launch()
            try graph.launch()
            try device.synchronize()
            // the whole step replayed back to back: the GPU's time a step, without the host's
            func replayed(skipping: (Int) -> Bool) throws -> Double {
                let graph = try device.capture { try enqueue(numTokens: step.numTokens, numSeqs: step.numSeqs, decode: decode, skipping: skipping) }
                try graph.launch()
                let replays = 20
                return try device.time { for _ in 0..<replays { try graph.launch() } } / Double(replays)
            }
            let stepMilliseconds = try replayed { _ in false }
            // each kind of stage left out in turn: what it adds to the step past what the
            // kernels around it overlap (attention, and each GEMM shape with what it absorbs)
            let kinds = Dictionary(grouping: nodes.indices.filter {
                nodes[$0].attention != nil || gemmShape($0, numTokens: step.numTokens, numSeqs: step.numSeqs) != nil
            }) { kernelLabel($0, numTokens: step.numTokens, numSeqs: step.numSeqs) }
            let leftOut = try kinds.sorted { $0.key < $1.key }.map { label, ids in
                let skipped = Set(ids)
                return (kernel: label, milliseconds: try replayed { skipped.contains($0) }, launches: ids.count)
            }
            var totals: [String: (Double, Int)] = [:]
            for (previous, mark) in zip(marks, marks.dropFirst()) {
                let time = try mark.event.milliseconds(since: previous.event)
                guard time > 0 || launches(mark.node) else { continue }
                let label = kernelLabel(mark.node, numTokens: step.numTokens, numSeqs: step.numSeqs)
                totals[label, default: (0, 0)].0 += time
                totals[label, default: (0, 0)].1 += 1
            }
            let kernels = totals.map { (kernel: $0.key, milliseconds: $0.value.0, launches: $0.value.1) }.sorted { $0.milliseconds > $1.milliseconds }
            // the persistent kernel's stages, where it takes this step
            var stages: [(kernel: String, milliseconds: Double, launches: Int)] = []
            if step.numSeqs == 1, decode, let persistent = persistentSteps {
                try persistent.launch(self.kernels["persistent_decode"], on: device, tracing: true)
                stages = try persistent.stageTimes()
            }
            return DecodeProfile(kernels: kernels, stepMilliseconds: stepMilliseconds, leftOut: leftOut, persistentStages: stages)
        }
    }

    private func launches(_ id: Int) -> Bool {
        switch nodes[id].op {
        case .weight, .input, .reshape, .select: false
        case .slice: inPlaceSlices[id] == nil
        default: true
        }
    }

    private func kernelLabel(_ id: Int, numTokens: Int, numSeqs: Int) -> String {
        if let shape = gemmShape(id, numTokens: numTokens, numSeqs: numSeqs) { return shape.description }
        switch nodes[id].op {
        case .plugin: return "attention (kv write, attention, combine)"
        case .add, .mul, .activation, .fusedElementwise: return "elementwise"
        default: return "\(nodes[id].op)".split(separator: "(").first.map(String.init) ?? "?"
        }
    }

    /// Where an elementwise operand's elements are: (address, width, row stride) — stride 0
    /// for contiguous values (full size or a broadcast vector), the source's row for an
    /// in-place slice.
    private func view(_ id: Int, _ numTokens: Int, _ numSeqs: Int) throws -> (UInt64, Int, Int) {
        guard let (source, start) = inPlaceSlices[id] else { return (try address(of: id, numTokens: numTokens, numSeqs: numSeqs), count(id, numTokens, numSeqs), 0) }
        return (try address(of: source, numTokens: numTokens, numSeqs: numSeqs) + UInt64(start * elementBytes(id)),
                extent(id, numTokens, numSeqs).last!, extent(source, numTokens, numSeqs).last!)
    }

    private func launchElementwise(_ kernel: ElementwiseKernel, out: KernelArgument, operands: [(UInt64, Int, Int)], count: Int) throws {
        let arguments = [out] + operands.flatMap { [KernelArgument.pointer($0.0), .int(Int32($0.1)), .int(Int32($0.2))] } + [.int(Int32(count))]
        try launch(kernels[kernel.name], grid: (min((count + 255) / 256, 8192), 1, 1), block: (256, 1, 1), arguments)
    }

    /// Slice and concat: `range` of `axis` of `source` copied to entry `at` of `id`'s axis.
    private func copyRows(into id: Int, from source: Int, axis: Int, range: Range<Int>, at: Int, numTokens: Int, numSeqs: Int) throws {
        guard nodes[id].dtype == activation, nodes[source].dtype == activation else {
            throw CUDABackendError.unsupportedOp("\(nodes[id].op) of \(nodes[source].dtype) values")
        }
        let sourceShape = extent(source, numTokens, numSeqs), shape = extent(id, numTokens, numSeqs)
        let outer = sourceShape[..<axis].reduce(1, *), inner = sourceShape[(axis + 1)...].reduce(1, *)
        try launch(kernels["copy_rows"], grid: (outer, 1, 1), block: (256, 1, 1), [
            .pointer(try address(of: id, numTokens: numTokens, numSeqs: numSeqs)),
            .pointer(try address(of: source, numTokens: numTokens, numSeqs: numSeqs)),
            .int(Int32(range.count * inner)), .int(Int32(sourceShape[axis] * inner)), .int(Int32(range.lowerBound * inner)),
            .int(Int32(shape[axis] * inner)), .int(Int32(at * inner)),
        ])
    }

    private func gemmShape(_ id: Int, numTokens: Int, numSeqs: Int) -> GemmShape? {
        let node = nodes[id], inputs = node.inputs
        let transposeB: Bool, bias: Bool, relu: Bool
        switch node.op {
        case .matmul(let t): (transposeB, bias, relu) = (t, false, false)
        case .matmulEpilogue(let t, let b, let activation): (transposeB, bias, relu) = (t, b, activation == .relu)
        default: return nil
        }
        let a = extent(inputs[0], numTokens, numSeqs), b = extent(inputs[1], numTokens, numSeqs)
        return GemmShape(m: a.dropLast().reduce(1, *), n: transposeB ? b[0] : b[1], k: a.last!, transposeB: transposeB,
                         input: gemmElement(nodes[inputs[0]].dtype), output: gemmElement(node.dtype), bias: bias, relu: relu)
    }

    private func runGemm(_ id: Int, numTokens: Int, numSeqs: Int, decode: Bool) throws {
        let inputs = nodes[id].inputs
        guard let shape = gemmShape(id, numTokens: numTokens, numSeqs: numSeqs) else { return }
        guard nodes[inputs[1]].isWeight || nodes[inputs[1]].dtype == activation else {
            throw CUDABackendError.unsupportedOp("\(nodes[id].op) with a \(nodes[inputs[1]].dtype) right operand")
        }
        func at(_ id: Int) throws -> KernelArgument { .pointer(try address(of: id, numTokens: numTokens, numSeqs: numSeqs)) }
        guard runsAsGemv(shape) else {
            if recording != nil { recording!.append(KernelLaunch(name: "cuBLASLt \(shape)", grid: (0, 0, 0), sharedBytes: 0, arguments: [])); return }
            try blas.run(shape, a: try address(of: inputs[0], numTokens: numTokens, numSeqs: numSeqs),
                         b: try address(of: inputs[1], numTokens: numTokens, numSeqs: numSeqs),
                         d: try address(of: id, numTokens: numTokens, numSeqs: numSeqs), bias: biasAddresses[id] ?? 0)
            return
        }
        let stagedBytes = shape.m * shape.k * 2
        let staged = stagedBytes <= Self.maxStagedBytes
        let prologue = try gemvPrologue(id, numTokens: numTokens, numSeqs: numSeqs, decode: decode)
        let name = switch prologue {
        case nil: "gemv_bf16"
        case .rmsNorm: "gemv_rms_norm"
        case .elementwise(let node): elementwise[node]!.gemvName
        }
        // the norm's weights (f32) follow x, copied there before the GEMV waits for x
        var sharedBytes = staged ? stagedBytes : 0
        if case .rmsNorm = prologue { sharedBytes += shape.k * 4 }
        // a persistent grid of one block per SM sweeps the rows; long rows are shared by several
        // warps when there are too few rows for every warp (each keeps a full tile of loads)
        let warps = Self.gemvThreads / 32, resident = device.info.multiprocessors
        var parts = 1
        while parts < warps && shape.n * parts < resident * warps && shape.k / 8 >= 2 * parts * 256 { parts *= 2 }
        let slots = warps / parts
        let blocks = min(resident, (shape.n + slots - 1) / slots)
        let head: [KernelArgument] = [try at(id), .int(shape.output == .f32 ? 1 : 0)]
        let sizes: [KernelArgument] = [.int(Int32(shape.m)), .int(Int32(shape.n)), .int(Int32(shape.k)), .int(Int32(parts))]
        let arguments: [KernelArgument]
        switch prologue {
        case nil:
            arguments = head + [try at(inputs[0]), try at(inputs[1])] + sizes + [.int(staged ? 1 : 0)]
        case .rmsNorm(let x, let residual, let sum, let weight, let eps):
            arguments = head + [try at(x), try residual.map(at) ?? .pointer(0), try sum.map(at) ?? .pointer(0),
                                try at(weight), .float(eps), try at(inputs[1])] + sizes
        case .elementwise(let node):
            let operands = try nodes[node].inputs.map { try view($0, numTokens, numSeqs) }
            arguments = head + [try at(inputs[1])] + sizes + operands.flatMap { [KernelArgument.pointer($0.0), .int(Int32($0.1)), .int(Int32($0.2))] }
        }
        try launch(kernels[CUDAKernelLibrary.gemv(name, rows: shape.m)], grid: (blocks, 1, 1), block: (Self.gemvThreads, 1, 1),
                          sharedBytes: sharedBytes, arguments)
    }

    /// GEMV_THREADS of gemv.cuh.
    private static let gemvThreads = 512

    /// Queues `kernel`, or records the launch while a step is translated for the persistent kernel.
    private func launch(_ kernel: KernelFunction, grid: (Int, Int, Int), block: (Int, Int, Int), sharedBytes: Int = 0,
                        cluster: (Int, Int, Int)? = nil, _ arguments: [KernelArgument]) throws {
        if recording != nil {
            recording!.append(KernelLaunch(name: kernel.name, grid: grid, sharedBytes: sharedBytes, arguments: arguments))
            return
        }
        try device.launch(kernel, grid: grid, block: block, sharedBytes: sharedBytes, cluster: cluster, arguments)
    }

    /// A decode step of `rows` sequences captured as a graph (run eagerly first: GEMM plans and
    /// kernel modules are created outside the capture). Where kernels are measured, steps of
    /// few rows are captured with their GEMVs as measured, all on Kiln's GEMV and all on
    /// cuBLASLt, and the fastest graph kept (its choice then holds for eager steps too): timed
    /// one by one the two are near-tied at these sizes, and the mix chosen shape by shape moved
    /// an H200's batch-8 step between 1.23 and 1.63 ms, because in a graph the GEMV also
    /// overlaps its neighbours (it loads its weights before the previous kernel ends).
    private func captureDecode(rows: Int) throws -> CUDAGraph {
        func capture() throws -> CUDAGraph {
            try enqueue(numTokens: rows, numSeqs: rows, decode: true)
            try device.synchronize()
            return try device.capture { try enqueue(numTokens: rows, numSeqs: rows, decode: true) }
        }
        let shapes = Set(nodes.indices.compactMap { gemmShape($0, numTokens: rows, numSeqs: rows) }.filter { $0.m == rows && $0.gemvEligible })
        guard measuresGemvMix, !shapes.isEmpty else { return try capture() }
        var candidates = [smallGemmsOnBlas.intersection(shapes)]
        for onBlas in [[], shapes] where !candidates.contains(onBlas) { candidates.append(onBlas) }
        var best: (graph: CUDAGraph, time: Double, onBlas: Set<GemmShape>)?
        for onBlas in candidates {
            smallGemmsOnBlas = smallGemmsOnBlas.subtracting(shapes).union(onBlas)
            let graph = try capture()
            let time = try replayTime(graph)
            if best == nil || time < best!.time { best = (graph, time, onBlas) }
        }
        smallGemmsOnBlas = smallGemmsOnBlas.subtracting(shapes).union(best!.onBlas)
        return best!.graph
    }

    /// A graph's GPU time: the best of three runs of five replays (a decode step replayed
    /// computes the same, so replays change nothing).
    private func replayTime(_ graph: CUDAGraph) throws -> Double {
        try (0..<3).map { _ in try device.time { for _ in 0..<5 { try graph.launch() } } }.min()!
    }

    /// The one-row decode step as one persistent kernel, where every launch of the step has a
    /// persistent stage (nil: the step keeps its kernels). Records the step's launches.
    private func persistentDecode() throws -> PersistentDecode? {
        guard usesPersistentDecode, let kernel = kernels.functions["persistent_decode"] else { return nil }
        recording = []
        defer { recording = nil }
        try enqueue(numTokens: 1, numSeqs: 1, decode: true)
        guard let program = PersistentProgram(recording!, prologues: kernels.persistentPrologues, blocks: device.info.multiprocessors) else {
            return nil
        }
        try device.allowSharedMemory(kernel, bytes: program.sharedBytes)
        return try PersistentDecode(program, device: device)
    }

    /// SAMPLE_THREADS of sampling.cu.
    private static let samplingThreads = 512

    /// Blocks a sampled row's vocabulary is shared by on `device` (nil: one block), so that
    /// each block's slice of f32 values fits the dynamic shared memory gemv_rms_norm is given
    /// (3 × maxStagedBytes, known to fit beside the static on Hopper).
    static func samplingCluster(width: Int, device: CUDADevice) -> Int? {
        let blocks = CUDADevice.portableClusterBlocks  // SAMPLE_MAX_CLUSTER of sampling.cu
        return device.usesClusters && sampleSliceBytes(width: width, blocks: blocks) <= 3 * maxStagedBytes ? blocks : nil
    }

    /// A sampling block's slice of a row: ⌈width / blocks⌉ f32 values.
    static func sampleSliceBytes(width: Int, blocks: Int) -> Int { (width + blocks - 1) / blocks * 4 }

    /// Activations a GEMV stages in shared memory (m · k bf16 values).
    private static let maxStagedBytes = 64 << 10

    /// The prologue GEMV `gemv` runs in this step: only in decode steps, where its input is
    /// staged in shared memory, and (for elementwise chains) where every operand can be read
    /// 8 aligned values at a time.
    private func gemvPrologue(_ gemv: Int, numTokens: Int, numSeqs: Int, decode: Bool) throws -> GemvPrologue? {
        guard decode, let prologue = fusion.prologues[gemv], let shape = gemmShape(gemv, numTokens: numTokens, numSeqs: numSeqs),
              runsAsGemv(shape), shape.m * shape.k * 2 <= Self.maxStagedBytes else { return nil }
        guard case .elementwise(let node) = prologue else { return prologue }
        let kernel = elementwise[node]!
        for (input, isActivation) in zip(nodes[node].inputs, kernel.operandIsActivation) {
            let (address, width, stride) = try view(input, numTokens, numSeqs)
            guard width % 8 == 0, stride % 8 == 0, address % (isActivation ? 16 : 32) == 0 else { return nil }
        }
        return prologue
    }

    /// Whether `shape` runs as Kiln's GEMV: one it can take, unless cuBLASLt was measured faster.
    private func runsAsGemv(_ shape: GemmShape) -> Bool { shape.gemvEligible && !smallGemmsOnBlas.contains(shape) }

    private func runAttention(_ id: Int, _ attention: AttentionPlugin, numTokens: Int, numSeqs: Int, decode: Bool) throws {
        let inputs = nodes[id].inputs
        func at(_ id: Int) throws -> KernelArgument { .pointer(try address(of: id, numTokens: numTokens, numSeqs: numSeqs)) }
        let layout = kvCacheLayout, steps = metadataLayout(numTokens, numSeqs)
        let layerBytes = UInt64((layout.numBlocks + 1) * layout.elementsPerBlock * (activation.byteCount(elements: 1) ?? 4))
        let cache = KernelArgument.pointer(pool.address + UInt64(attention.layer) * layerBytes)
        let rotary = attention.rotary
        let positions: KernelArgument = rotary == nil ? .pointer(metadataAddress(steps.positions)) : try at(inputs[3])
        // q, k, v: in their own rows, or in place inside the fused projection's rows
        let (q, k, v) = (try view(inputs[0], numTokens, numSeqs), try view(inputs[1], numTokens, numSeqs), try view(inputs[2], numTokens, numSeqs))
        func stride(_ operand: (UInt64, Int, Int), _ width: Int) -> KernelArgument { .int(Int32(operand.2 == 0 ? width : operand.2)) }
        let strides = [stride(q, attention.numHeads * attention.headDim), stride(k, attention.numKVHeads * attention.headDim),
                       stride(v, attention.numKVHeads * attention.headDim)]
        // split the keys across blocks only when few query tokens leave the GPU idle
        let blocks = numTokens * attention.numKVHeads, target = device.info.multiprocessors
        var splits = numTokens > limits.maxBatchSize || blocks >= target ? 1 : min(CUDAKernelLibrary.maxAttentionSplits, (target + blocks - 1) / blocks)
        let rope: [KernelArgument] = [.pointer(rotaryAddresses[id] ?? 0), .float(rotary?.attentionFactor ?? 1), .int(rotary == nil ? 0 : 1)]
        let heads: [KernelArgument] = [.int(Int32(attention.numHeads)), .int(Int32(attention.numKVHeads)), .int(Int32(attention.headDim))]
        // decode steps whose tokens alone fill the GPU (no splits) stream their keys faster
        // through the tensor-core kernel's shared-memory tiles, one token a block
        let decodeOnTensorCores = decode && splits == 1 && usesFlashPrefill(attention) && !device.prefersSplitDecodeAttention
        if decode && !decodeOnTensorCores {
            // one kernel: rotation, the new token's cache write, attention and the split merge;
            // on Hopper a (token, KV head)'s splits are one cluster (at most 8 blocks, the
            // portable size: 4, 6, 12 and 16 made a one-row step slower on an H200), whose
            // rank 0 gathers and merges their records
            var cluster: (Int, Int, Int)?
            if device.usesClusters && splits > 1 {
                splits = min(splits, device.attentionClusterBlocks)
                cluster = (1, 1, splits)
            }
            let group = Self.decodeGroup(attention)
            try launch(kernels["decode_attention_g\(group)"], grid: (numTokens, attention.numKVHeads, splits), block: (128, 1, 1),
                              sharedBytes: Self.decodeAttentionSharedBytes(attention, gathered: cluster == nil ? 0 : splits), cluster: cluster, [
                try at(id), .pointer(partials.address), .pointer(arrivals.address), cache, .pointer(q.0), .pointer(k.0), .pointer(v.0),
            ] + strides + [
                positions, .pointer(metadataAddress(steps.slots)), .pointer(metadataAddress(steps.blockTables)),
                .int(Int32(maxBlocksPerSequence)), .int(Int32(layout.tokensPerBlock)),
            ] + rope + heads + [.float(attention.scale), .int(Int32(attention.slidingWindow ?? 0)), .int(Int32(splits)),
                                .int(numTokens == 1 ? 1 : 0)])  // one-row steps: the kernel specialized for the model's shape
            return
        }
        try launch(kernels["write_kv"], grid: (numTokens, 1, 1), block: (128, 1, 1), [
            try at(id), cache, .pointer(q.0), .pointer(k.0), .pointer(v.0), positions, .pointer(metadataAddress(steps.slots)),
        ] + rope + heads + [.int(Int32(layout.tokensPerBlock))] + strides)
        if usesFlashPrefill(attention) {
            // decode: no tile list, block t takes token t
            let tileCount = decode ? numTokens : flashTileCount(numTokens: numTokens, numSeqs: numSeqs)
            try launch(kernels["flash_prefill_d\(attention.headDim)"], grid: (tileCount, attention.numKVHeads, 1),
                              block: (128, 1, 1), sharedBytes: Self.flashSharedBytes(headDim: attention.headDim), [
                try at(id), cache, positions, .pointer(metadataAddress(steps.tokenSequence)), .pointer(decode ? 0 : metadataAddress(steps.flashTiles)),
                .pointer(metadataAddress(steps.blockTables)), .int(Int32(maxBlocksPerSequence)), .int(Int32(layout.tokensPerBlock)),
                .int(Int32(attention.numHeads)), .int(Int32(attention.numKVHeads)), .float(attention.scale), .int(Int32(attention.slidingWindow ?? 0)),
            ])
            return
        }
        try launch(kernels["paged_attention"], grid: (numTokens, attention.numKVHeads, splits), block: (128, 1, 1), [
            try at(id), .pointer(partials.address), try at(id), cache, positions, .pointer(metadataAddress(steps.tokenSequence)),
            .pointer(metadataAddress(steps.blockTables)), .int(Int32(maxBlocksPerSequence)), .int(Int32(layout.tokensPerBlock)),
            .int(Int32(attention.numHeads)), .int(Int32(attention.numKVHeads)), .int(Int32(attention.headDim)),
            .float(attention.scale), .int(Int32(attention.slidingWindow ?? 0)), .int(Int32(splits)),
        ])
        if splits > 1 {
            try launch(kernels["attention_combine"], grid: (numTokens, attention.numKVHeads, 1), block: (128, 1, 1), [
                try at(id), .pointer(partials.address), .int(Int32(attention.numHeads)), .int(Int32(attention.numKVHeads)),
                .int(Int32(attention.headDim)), .int(Int32(splits)),
            ])
        }
    }

    /// The GQA group size the decode attention kernel for `attention` is unrolled for.
    private static func decodeGroup(_ attention: AttentionPlugin) -> Int {
        [1, 2, 4, 8].first { $0 >= attention.numHeads / attention.numKVHeads }!
    }

    /// Decode attention's dynamic shared memory: the key lanes' sums (attend_decode's `reduce`:
    /// keys a pass × group × head dim floats), then `gathered` split records (group × (head dim
    /// + 2) floats each) where a cluster's rank 0 merges them.
    private static func decodeAttentionSharedBytes(_ attention: AttentionPlugin, gathered: Int) -> Int {
        var span = 1
        while span < attention.headDim / 8 { span *= 2 }
        let group = attention.numHeads / attention.numKVHeads
        return (128 / span * group * attention.headDim + gathered * group * (attention.headDim + 2)) * 4
    }

    /// Takes the recorded GEMM algorithm choices, and measures the others when asked: for
    /// each weight GEMM at the decode graph sizes and a few prefill sizes, cuBLASLt's
    /// candidates and, for few rows, Kiln's GEMV against the best of them (`gemv`: 1 or 0).
    private func chooseGemmAlgorithms(_ recorded: KernelSelection, measure: Bool) throws {
        var chosen: [String: [String: Int]] = [:]
        let decodeSizes = Self.graphBatchSizes.filter { $0 <= limits.maxBatchSize }
        let prefillSizes = [128, 512, 2048].filter { $0 <= limits.maxNumTokens }
        if measure { try device.fill(arena.address, byte: 0x3c, count: arena.byteCount) }  // small nonzero values, not zeros
        var seen = Set<GemmShape>()
        for (id, node) in nodes.enumerated() where node.op.isGemm && nodes[node.inputs[1]].isWeight {
            for m in decodeSizes + prefillSizes {
                let tokens = m, sequences = min(m, limits.maxBatchSize)
                guard let shape = gemmShape(id, numTokens: tokens, numSeqs: sequences), shape.m == m,
                      seen.insert(shape).inserted else { continue }
                if let choice = recorded.choices[shape.description] {
                    if let index = choice["candidate"] { try blas.choose(index, for: shape) }
                    if choice["gemv"] == 0 { smallGemmsOnBlas.insert(shape) }
                    chosen[shape.description] = choice
                } else if measure {
                    // operands in the arena: a at its start, d after it
                    let aBytes = (shape.m * shape.k * shape.input.byteCount + 255) / 256 * 256
                    guard aBytes + shape.m * shape.n * shape.output.byteCount <= arena.byteCount else { continue }
                    let (index, blasTime) = try blas.tune(shape, a: arena.address, b: try address(of: node.inputs[1], numTokens: tokens, numSeqs: sequences),
                                                          d: arena.address + UInt64(aBytes), bias: biasAddresses[id] ?? 0)
                    var choice = ["candidate": index]
                    if shape.gemvEligible {
                        try runGemm(id, numTokens: tokens, numSeqs: sequences, decode: false)  // warm
                        // the best of several timings, as cuBLASLt's time is the best of its
                        // candidates' (one timing against that minimum is biased against the GEMV)
                        var gemvTime = Double.infinity
                        for _ in 0..<4 {
                            gemvTime = min(gemvTime, try device.time {
                                for _ in 0..<5 { try runGemm(id, numTokens: tokens, numSeqs: sequences, decode: false) }
                            })
                        }
                        // cuBLASLt must win clearly: in decode the GEMV also absorbs its input's
                        // norm or SwiGLU, a kernel cuBLASLt would need beside it
                        let gemvWins = gemvTime <= 1.1 * blasTime
                        choice["gemv"] = gemvWins ? 1 : 0
                        if !gemvWins { smallGemmsOnBlas.insert(shape) }
                    }
                    chosen[shape.description] = choice
                }
            }
        }
        kernelSelection = KernelSelection(choices: chosen)
    }

    /// What this GPU gives the kernels, for engine headers and reports.
    public static func deviceDescription(_ info: GPUInfo) -> String {
        "cuda: \(info.name), \(info.smArchitecture), \(info.multiprocessors) SMs"
    }
}

/// The most rows the graph's output has in one step.
private func outputRowsCapacity(_ graph: Graph, output: Int, limits: StepLimits) -> Int {
    graph.nodes[output].shape.first?.resolved(numTokens: limits.maxNumTokens, numSeqs: limits.maxBatchSize) ?? 1
}

extension Graph {
    /// Whether weight `id` is read as a GEMM's matrix or an embedding table.
    func isMatrixOperand(_ id: Int) -> Bool {
        nodes.contains { node in
            node.inputs.enumerated().contains { position, input in
                guard input == id else { return false }
                switch (node.op, position) {
                case (.matmul, 1), (.matmulEpilogue, 1), (.embedding, 0): return true
                default: return false
                }
            }
        }
    }
}

extension GemmShape {
    /// A few bf16 rows times a weight matrix, which Kiln's bandwidth-bound GEMV can take
    /// (bias and ReLU epilogues stay with cuBLASLt); it runs there unless cuBLASLt was
    /// measured faster.
    var gemvEligible: Bool { m <= 8 && transposeB && !bias && !relu && input == .bf16 && k % 8 == 0 }
}

extension Op {
    var isGemm: Bool {
        switch self {
        case .matmul, .matmulEpilogue: true
        default: false
        }
    }
}

/// Where a step's GPU time goes (`CUDAExecutable.profile`).
public struct DecodeProfile: Sendable {
    /// Kernels by kind: time (each timed alone) and launches in the step, longest first.
    public let kernels: [(kernel: String, milliseconds: Double, launches: Int)]
    /// The whole step's GPU time, replayed back to back as a CUDA graph.
    public let stepMilliseconds: Double
    /// The step replayed with one kind of stage left out (its outputs stale): attention, then
    /// each GEMM shape with the norms or elementwise chains it absorbs, and its launches. The
    /// difference from `stepMilliseconds` is what that stage adds to the step, past what the
    /// kernels around it overlap.
    public let leftOut: [(kernel: String, milliseconds: Double, launches: Int)]
    /// Where the persistent kernel takes the step: its stages by kind, each the time from the
    /// previous stage's end to its own in the last block to finish it (empty where it does not).
    public let persistentStages: [(kernel: String, milliseconds: Double, launches: Int)]
}

extension Node {
    var attention: AttentionPlugin? {
        if case .plugin(let call) = op { call.plugin as? AttentionPlugin } else { nil }
    }

    /// The rotary embedding whose frequency table this node reads.
    var rotary: RotaryEmbedding? {
        switch op {
        case .rope(let rotary): rotary
        default: attention?.rotary
        }
    }
}
