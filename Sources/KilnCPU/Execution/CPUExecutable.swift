// The CPU backend: runs a built graph op by op with SIMD, multithreaded kernels, every
// activation at its offset in one arena planned by liveness, and the KV cache in the paged
// layout every backend shares.

import KilnGraph
import KilnTensor
import Synchronization

/// A graph loaded for the CPU, with its weights, activation arena and KV-cache pool.
public final class CPUExecutable: Executable {
    public let kvCacheLayout: KVCacheLayout
    public let vocabularySize: Int
    /// The largest step this executable runs (its arena is planned for it).
    public let limits: StepLimits
    private let nodes: [Node]
    private let output: Int
    /// Token ids a step may hold: the embedding table's rows.
    private let embeddingRows: Int?
    private let weights: [Int: CPUWeight]
    private let pool: KVCachePool
    private let rotaryTables: [Int: [Float]]
    private let pluginKernels: [Int: any CPUPluginKernel]
    /// The measured GEMM variant of each weight matmul, for decode steps and for larger ones.
    private let gemmVariants: [Int: (decode: GemmVariant, prefill: GemmVariant)]
    private let plan: MemoryPlan
    /// One step runs at a time: it owns the arena while it runs.
    private let arena: Mutex<ActivationArena>

    /// What the CPU computes in and which weight formats its kernels read in place.
    public static func precision(weightType: DType? = nil) -> PrecisionPolicy {
        PrecisionPolicy(activationType: .f32, matrixWeightFormats: WeightMatrix.readableFormats, weightType: weightType)
    }

    /// Prepares `graph` with `weights` (by parameter name), an activation arena for steps up
    /// to `limits`, a KV pool of `kvCache`, and the GEMM variants `kernels` chose (the
    /// widest vectors on every thread where it has none).
    public init(graph: Graph, weights: [String: HostTensor], kvCache: KVCacheLayout, limits: StepLimits = StepLimits(),
                kernels: KernelSelection = KernelSelection()) throws(CPUBackendError) {
        guard let output = graph.outputs.first, let width = graph.nodes[output].shape.last?.fixedSize else {
            throw .unsupportedOp("a graph without a [rows, vocab] output")
        }
        let matrixOnly = graph.matrixOnlyWeights
        var prepared: [Int: CPUWeight] = [:]
        var tables: [Int: [Float]] = [:]
        var plugins: [Int: any CPUPluginKernel] = [:]
        for (id, node) in graph.nodes.enumerated() {
            switch node.op {
            case .weight(let name):
                guard let tensor = weights[name] else { throw .unboundWeight(name: name) }
                let expected = node.shape.compactMap(\.fixedSize)
                guard tensor.shape == expected else { throw .weightShapeMismatch(name: name, expected: expected, actual: tensor.shape) }
                prepared[id] = CPUWeight(tensor, matrixOnly: matrixOnly.contains(id))
            case .input:
                break
            default:
                guard node.dtype == .f32 else {
                    throw .unsupportedOp("\(node.op) computing \(node.dtype): the CPU computes in f32; build with CPUExecutable.precision()")
                }
                if case .rope(let rotary) = node.op { tables[id] = rotary.inverseFrequencies }
                if case .plugin(let call) = node.op { plugins[id] = try CPUPluginKernels.kernel(for: call) }
            }
        }
        var variants: [Int: (decode: GemmVariant, prefill: GemmVariant)] = [:]
        for (id, node) in graph.nodes.enumerated() where node.op.gemmKind == .matmul(transposeB: true) {
            guard let matrix = prepared[node.inputs[1]]?.matrix else { continue }
            func variant(_ tokens: Int) -> GemmVariant {
                kernels.choices[CPUKernelTuner.signature(matrix, tokens: tokens)].flatMap(GemmVariant.init(parameters:)) ?? .standard
            }
            variants[id] = (variant(1), variant(CPUKernelTuner.stepSizes[1]))
        }
        self.gemmVariants = variants
        self.nodes = graph.nodes
        self.output = output
        embeddingRows = graph.embeddingRows
        self.weights = prepared
        self.rotaryTables = tables
        self.pluginKernels = plugins
        self.vocabularySize = width
        self.kvCacheLayout = kvCache
        self.limits = limits
        self.pool = KVCachePool(layout: kvCache)
        plan = MemoryPlan(graph, numTokens: limits.maxNumTokens, numSeqs: limits.maxBatchSize)
        arena = Mutex(ActivationArena(byteCount: plan.arenaBytes))
    }

    /// What this machine's CPU gives the kernels, for engine headers and reports.
    public static var deviceDescription: String { "cpu: \(cpuVectorBits)-bit SIMD kernels, \(workerCount) threads" }

    /// The kernels' target on this machine: the instruction set and its vector width.
    public static var architecture: String { architecture(vectorBits: cpuVectorBits) }

    /// Every target this machine runs: its own vector width and the narrower ones.
    public static var runnableArchitectures: [String] {
        supportedVectorWidths.map(architecture(vectorBits:))
    }

    private static func architecture(vectorBits: Int32) -> String {
        #if arch(x86_64)
        "x86_64-simd\(vectorBits)"
        #elseif arch(arm64)
        "arm64-simd\(vectorBits)"
        #else
        "generic-simd\(vectorBits)"
        #endif
    }

    /// What kernel measurements depend on: the target and the number of threads.
    public static var tuningKey: String { "cpu-\(architecture)-\(workerCount)threads" }

    /// Bytes of the activation arena: what the largest step needs (smaller steps touch less).
    public var activationBytes: Int { plan.arenaBytes }

    public func forward(_ step: StepInputs) throws -> HostTensor {
        try validate(step)
        return try arena.withLock { arena throws(CPUBackendError) in try run(step, arena: arena.base) }
    }

    private func run(_ step: StepInputs, arena: UnsafeMutableRawPointer) throws(CPUBackendError) -> HostTensor {
        let numTokens = step.numTokens, numSeqs = step.numSeqs
        func extent(_ id: Int) -> [Int] { nodes[id].shape.map { $0.resolved(numTokens: numTokens, numSeqs: numSeqs) } }
        func count(_ id: Int) -> Int { extent(id).reduce(1, *) }
        var ints: [Int: [Int32]] = [:]
        // where each value lives this step: the arena at its planned offset, a weight, or
        // (for views) inside its source
        var pointers = [UnsafeMutablePointer<Float>?](repeating: nil, count: nodes.count)
        func floats(_ id: Int) -> UnsafeMutablePointer<Float> { pointers[id]! }

        for (id, node) in nodes.enumerated() {
            let inputs = node.inputs
            switch node.op {
            case .weight:
                pointers[id] = weights[id]!.floats.map(UnsafeMutablePointer.init(mutating:))
                continue
            case .input(.tokenIds):
                ints[id] = step.tokenIds
                continue
            case .input(.positions):
                ints[id] = step.positions
                continue
            case .reshape:
                pointers[id] = pointers[inputs[0]]
                continue
            case .select(let index):
                pointers[id] = pointers[inputs[0]].map { $0 + index * count(id) }
                continue
            default:
                pointers[id] = (arena + plan.offsets[id]!).assumingMemoryBound(to: Float.self)
            }
            let out = floats(id)
            switch node.op {
            case .matmul(let transposeB):
                runMatmul(id, transposeB: transposeB, into: out, extent: extent, floats: floats)
            case .matmulEpilogue(let transposeB, let hasBias, let activation):
                runMatmul(id, transposeB: transposeB, into: out, extent: extent, floats: floats)
                let shape = extent(id)
                applyEpilogue(out, rows: shape[0], columns: shape[1], bias: hasBias ? UnsafePointer(floats(inputs[2])) : nil, activation: activation)
            case .fusedElementwise(let program):
                runFused(program, operands: inputs.map { FusedOperand(values: floats($0), count: count($0)) }, count: count(id), out: out)
            case .add:
                add(floats(inputs[0]), count: count(inputs[0]), floats(inputs[1]), bCount: count(inputs[1]), out)
            case .mul:
                multiply(floats(inputs[0]), count: count(inputs[0]), floats(inputs[1]), bCount: count(inputs[1]), out)
            case .activation(.relu):
                relu(floats(inputs[0]), count: count(id), out)
            case .activation(.sigmoid):
                sigmoid(floats(inputs[0]), count: count(id), out)
            case .rmsNorm(let eps):
                let width = extent(id).last!
                rmsNorm(floats(inputs[0]), rows: count(id) / width, width: width, weight: floats(inputs[1]), eps: eps, out)
            case .residualRMSNorm(let eps):
                let width = extent(id).last!, half = count(id) / 2
                residualRMSNorm(floats(inputs[0]), floats(inputs[1]), rows: half / width, width: width, weight: floats(inputs[2]), eps: eps,
                                sum: out, normed: out + half)
            case .embedding:
                guard let table = weights[inputs[0]]?.matrix else { throw .unsupportedOp("embedding of a computed table") }
                for (row, token) in ints[inputs[1]]!.enumerated() {
                    guard token >= 0 && Int(token) < table.rows else { throw .tokenOutOfRange(token: token, vocabularySize: table.rows) }
                    table.widenRow(Int(token), into: out + row * table.columns)
                }
            case .rope(let rotary):
                let shape = extent(id)
                ints[inputs[1]]!.withUnsafeBufferPointer { positions in
                    applyRotary(floats(inputs[0]), tokens: shape[0], width: shape[1], headDim: rotary.dimension,
                                positions: positions.baseAddress!, inverseFrequencies: rotaryTables[id]!,
                                attentionFactor: rotary.attentionFactor, out)
                }
            case .plugin:
                let context = CPUPluginContext(step: step, operandShapes: inputs.map(extent),
                                               result: UnsafeMutableBufferPointer(start: out, count: count(id)), resultShape: extent(id),
                                               floatOperands: inputs.map { pointers[$0] }, intOperands: inputs.map { ints[$0] },
                                               weightOperands: inputs.map { weights[$0]?.matrix }, kvCache: pool)
                try pluginKernels[id]!.run(context)
            case .gatherLastTokens:
                let width = extent(id)[1], source = floats(inputs[0])
                var end = 0
                for (s, sequence) in step.sequences.enumerated() {
                    end += sequence.newTokens
                    (out + s * width).update(from: source + (end - 1) * width, count: width)
                }
            case .slice(let axis, let start, let length):
                let shape = extent(inputs[0])
                copyBlocks(from: floats(inputs[0]), shape: shape, axis: axis, range: start..<(start + length), into: out, at: 0, outAxis: length)
            case .concat(let axis):
                let outAxis = extent(id)[axis]
                var offset = 0
                for input in inputs {
                    let shape = extent(input)
                    copyBlocks(from: floats(input), shape: shape, axis: axis, range: 0..<shape[axis], into: out, at: offset, outAxis: outAxis)
                    offset += shape[axis]
                }
            case .input, .weight, .reshape, .select:
                break
            }
        }
        let shape = extent(output)
        return HostTensor(dtype: .f32, shape: shape, copying: UnsafeRawBufferPointer(start: floats(output), count: shape.reduce(1, *) * 4))
    }

    /// `a · b` or `a · bᵀ` of (fused) matmul node `id` into `out`.
    private func runMatmul(_ id: Int, transposeB: Bool, into out: UnsafeMutablePointer<Float>,
                          extent shapeOf: (Int) -> [Int], floats: (Int) -> UnsafeMutablePointer<Float>) {
        let inputs = nodes[id].inputs
        let a = floats(inputs[0]), m = shapeOf(inputs[0])[0]
        let bShape = shapeOf(inputs[1])
        if transposeB {
            let b = weights[inputs[1]]?.matrix
                ?? WeightMatrix(format: .f32, base: UnsafeRawPointer(floats(inputs[1])), rows: bShape[0], columns: bShape[1])
            let variants = gemmVariants[id]
            gemmTransposedB(a: a, m: m, b: b, c: out, variant: (m == 1 ? variants?.decode : variants?.prefill) ?? .standard)
        } else {
            gemm(a: a, m: m, k: bShape[0], b: floats(inputs[1]), n: bShape[1], c: out)
        }
    }

    /// Checks that a step is self-consistent and fits the KV pool before any kernel runs.
    private func validate(_ step: StepInputs) throws(CPUBackendError) {
        if let problem = step.problem(limits: limits, layout: kvCacheLayout) { throw .invalidStep(problem) }
        if let token = step.tokenOutside(vocabulary: embeddingRows) { throw .tokenOutOfRange(token: token, vocabularySize: embeddingRows!) }
    }
}

/// Copies `range` of `axis` of a row-major tensor into `out`, whose `axis` has `outAxis`
/// entries, starting at entry `at`.
private func copyBlocks(from source: UnsafePointer<Float>, shape: [Int], axis: Int, range: Range<Int>,
                        into out: UnsafeMutablePointer<Float>, at: Int, outAxis: Int) {
    let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
    for o in 0..<outer {
        (out + (o * outAxis + at) * inner).update(from: source + (o * shape[axis] + range.lowerBound) * inner, count: range.count * inner)
    }
}

/// The activation arena: one allocation of the planned size. Pages a step never touches
/// are never made resident, so planning for the largest step costs little for small ones.
struct ActivationArena: ~Copyable {
    /// Invariant: `byteCount` bytes (at least one), aligned for any kernel's vectors, owned here.
    let base: UnsafeMutableRawPointer

    init(byteCount: Int) {
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, MemoryPlan.alignment), alignment: MemoryPlan.alignment)
    }

    deinit { base.deallocate() }
}
