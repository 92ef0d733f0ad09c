// The CPU backend: runs a recorded graph op by op with SIMD, multithreaded kernels, the
// KV cache in the paged layout every backend shares.

import KilnGraph
import KilnTensor
import Synchronization

/// A graph loaded for the CPU, with its weights and KV-cache pool.
public final class CPUExecutable: Executable {
    public let kvCacheLayout: KVCacheLayout
    public let vocabularySize: Int
    private let nodes: [Node]
    private let output: Int
    private let weights: [Int: CPUWeight]
    private let pool: KVCachePool
    private let rotaryTables: [Int: [Float]]
    /// For each node, the values whose buffers are free once it has run (their last use).
    private let releasedAfter: [[Int]]
    /// Activation buffers, reused from step to step; one step runs at a time.
    private let arena = Mutex(ActivationArena())

    /// Prepares `graph` with `weights` (by parameter name) and a KV pool of `kvCache`.
    public init(graph: Graph, weights: [String: HostTensor], kvCache: KVCacheLayout) throws(CPUBackendError) {
        guard let output = graph.outputs.first, let width = graph.nodes[output].shape.last?.fixedSize else {
            throw .unsupportedOp("a graph without a [rows, vocab] output")
        }
        let matrixOnly = graph.matrixOnlyWeights
        var prepared: [Int: CPUWeight] = [:]
        var tables: [Int: [Float]] = [:]
        for (id, node) in graph.nodes.enumerated() {
            switch node.op {
            case .weight(let name):
                guard let tensor = weights[name] else { throw .unboundWeight(name: name) }
                let expected = node.shape.compactMap(\.fixedSize)
                guard tensor.shape == expected else { throw .weightShapeMismatch(name: name, expected: expected, actual: tensor.shape) }
                prepared[id] = CPUWeight(tensor, matrixOnly: matrixOnly.contains(id))
            case .rope(let rotary):
                tables[id] = rotary.inverseFrequencies
            case .attention(let attributes):
                tables[id] = attributes.rotary?.inverseFrequencies
            default:
                break
            }
        }
        self.nodes = graph.nodes
        self.output = output
        releasedAfter = releaseSchedule(graph)
        self.weights = prepared
        self.rotaryTables = tables
        self.vocabularySize = width
        self.kvCacheLayout = kvCache
        self.pool = KVCachePool(layout: kvCache)
    }

    /// What this machine's CPU gives the kernels, for engine headers and reports.
    public static var deviceDescription: String { "cpu: \(cpuVectorBits)-bit SIMD kernels, \(workerCount) threads" }

    /// Activation memory held for the largest step run so far.
    public var activationBytes: Int { arena.withLock { $0.byteCount } }

    public func forward(_ step: StepInputs) throws -> HostTensor {
        try validate(step)
        return try arena.withLock { arena in try run(step, arena: &arena) }
    }

    private func run(_ step: StepInputs, arena: inout ActivationArena) throws(CPUBackendError) -> HostTensor {
        let numTokens = step.numTokens, numSeqs = step.numSeqs
        func extent(_ id: Int) -> [Int] { nodes[id].shape.map { $0.resolved(numTokens: numTokens, numSeqs: numSeqs) } }
        func count(_ id: Int) -> Int { extent(id).reduce(1, *) }
        var ints: [Int: [Int32]] = [:]
        var aliases: [Int: Int] = [:]
        func floats(_ id: Int) -> UnsafeMutablePointer<Float> {
            if let weight = weights[id] { return UnsafeMutablePointer(mutating: weight.floats!) }
            return arena.buffer(aliases[id] ?? id)
        }

        for (id, node) in nodes.enumerated() {
            let inputs = node.inputs
            switch node.op {
            case .weight:
                continue
            case .input(.tokenIds):
                ints[id] = step.tokenIds
                continue
            case .input(.positions):
                ints[id] = step.positions
                continue
            case .reshape:
                aliases[id] = aliases[inputs[0]] ?? inputs[0]
                continue
            default:
                arena.reserve(id, count: count(id))
            }
            defer { for value in releasedAfter[id] { arena.release(value) } }
            let out = arena.buffer(id)
            switch node.op {
            case .matmul(let transposeB):
                runMatmul(inputs, transposeB: transposeB, into: out, extent: extent, floats: floats)
            case .matmulEpilogue(let transposeB, let hasBias, let activation):
                runMatmul(inputs, transposeB: transposeB, into: out, extent: extent, floats: floats)
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
            case .attention(let attributes):
                guard let rotary = attributes.rotary else {
                    pagedAttention(q: floats(inputs[0]), k: floats(inputs[1]), v: floats(inputs[2]), out: out,
                                   step: step, cache: pool.layer(attributes.layer), attributes: attributes)
                    break
                }
                // rotate q and k on their way in (k is rotated before it is written to the cache)
                let qWidth = attributes.numHeads * attributes.headDim, kvWidth = attributes.numKVHeads * attributes.headDim
                withUnsafeTemporaryAllocation(of: Float.self, capacity: numTokens * (qWidth + kvWidth)) { scratch in
                    let q = scratch.baseAddress!, k = q + numTokens * qWidth
                    ints[inputs[3]]!.withUnsafeBufferPointer { positions in
                        for (source, target, width) in [(floats(inputs[0]), q, qWidth), (floats(inputs[1]), k, kvWidth)] {
                            applyRotary(source, tokens: numTokens, width: width, headDim: rotary.dimension, positions: positions.baseAddress!,
                                        inverseFrequencies: rotaryTables[id]!, attentionFactor: rotary.attentionFactor, target)
                        }
                    }
                    pagedAttention(q: q, k: k, v: floats(inputs[2]), out: out, step: step, cache: pool.layer(attributes.layer), attributes: attributes)
                }
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
            case .input, .weight, .reshape:
                break
            }
        }
        let shape = extent(output)
        let result = floats(output)
        defer { arena.release(aliases[output] ?? output) }
        return HostTensor(dtype: .f32, shape: shape, copying: UnsafeRawBufferPointer(start: result, count: shape.reduce(1, *) * 4))
    }

    /// `a · b` or `a · bᵀ` of a (fused) matmul node into `out`.
    private func runMatmul(_ inputs: [Int], transposeB: Bool, into out: UnsafeMutablePointer<Float>,
                          extent shapeOf: (Int) -> [Int], floats: (Int) -> UnsafeMutablePointer<Float>) {
        let a = floats(inputs[0]), m = shapeOf(inputs[0])[0]
        let bShape = shapeOf(inputs[1])
        if transposeB {
            let b = weights[inputs[1]]?.matrix
                ?? WeightMatrix(format: .f32, base: UnsafeRawPointer(floats(inputs[1])), rows: bShape[0], columns: bShape[1])
            gemmTransposedB(a: a, m: m, b: b, c: out)
        } else {
            gemm(a: a, m: m, k: bShape[0], b: floats(inputs[1]), n: bShape[1], c: out)
        }
    }

    /// Checks that a step is self-consistent and fits the KV pool before any kernel runs.
    private func validate(_ step: StepInputs) throws(CPUBackendError) {
        guard step.numTokens > 0 else { throw .invalidStep("no tokens") }
        guard step.positions.count == step.numTokens, step.slotMapping.count == step.numTokens else {
            throw .invalidStep("\(step.numTokens) tokens but \(step.positions.count) positions and \(step.slotMapping.count) slots")
        }
        guard step.sequences.reduce(0, { $0 + $1.newTokens }) == step.numTokens, step.sequences.allSatisfy({ $0.newTokens > 0 }) else {
            throw .invalidStep("the sequences' new tokens do not add up to the step's \(step.numTokens) tokens")
        }
        let layout = kvCacheLayout
        for slot in step.slotMapping where slot < 0 || Int(slot) >= layout.capacityTokens {
            throw .invalidStep("KV slot \(slot) is outside the pool of \(layout.capacityTokens) slots")
        }
        for sequence in step.sequences {
            let needed = (sequence.cachedTokens + sequence.newTokens + layout.tokensPerBlock - 1) / layout.tokensPerBlock
            guard sequence.blockTable.count >= needed, sequence.blockTable.allSatisfy({ $0 >= 0 && Int($0) < layout.numBlocks }) else {
                throw .invalidStep("a block table covers \(sequence.blockTable.count) of the \(needed) blocks its sequence needs")
            }
        }
        if let vocabulary = nodes.first(where: { if case .embedding = $0.op { true } else { false } })
            .flatMap({ nodes[$0.inputs[0]].shape.first?.fixedSize }) {
            for token in step.tokenIds where token < 0 || Int(token) >= vocabulary {
                throw .tokenOutOfRange(token: token, vocabularySize: vocabulary)
            }
        }
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

/// For each node, the computed values (not weights, inputs or aliases) whose last reader it
/// is; graph outputs are never released during the step.
private func releaseSchedule(_ graph: Graph) -> [[Int]] {
    let lifetimes = graph.lifetimes
    var released = Array(repeating: [Int](), count: graph.nodes.count)
    for (id, node) in graph.nodes.enumerated() where lifetimes.owner[id] == id && (0..<graph.nodes.count).contains(lifetimes.lastUse[id]) {
        switch node.op {
        case .weight, .input, .reshape: continue
        default: released[lifetimes.lastUse[id]].append(id)
        }
    }
    return released
}

/// Float buffers for node outputs. A value's buffer goes back to the pool after its last
/// reader runs, so a step needs only the largest set of values alive at once; buffers grow
/// to the largest step seen and are reused from step to step.
struct ActivationArena: ~Copyable {
    private var assigned: [Int: (pointer: UnsafeMutablePointer<Float>, capacity: Int)] = [:]
    private var free: [(pointer: UnsafeMutablePointer<Float>, capacity: Int)] = []

    /// Gives node `id` a buffer of at least `count` floats: the smallest free one that fits,
    /// else the largest free one grown, else a new one.
    mutating func reserve(_ id: Int, count: Int) {
        release(id)  // a value no node read keeps its buffer until the node runs again
        let needed = max(count, 1)
        if let index = free.indices.filter({ free[$0].capacity >= needed }).min(by: { free[$0].capacity < free[$1].capacity }) {
            assigned[id] = free.remove(at: index)
        } else if let index = free.indices.max(by: { free[$0].capacity < free[$1].capacity }) {
            free.remove(at: index).pointer.deallocate()
            assigned[id] = (UnsafeMutablePointer<Float>.allocate(capacity: needed), needed)
        } else {
            assigned[id] = (UnsafeMutablePointer<Float>.allocate(capacity: needed), needed)
        }
    }

    mutating func release(_ id: Int) {
        if let buffer = assigned.removeValue(forKey: id) { free.append(buffer) }
    }

    func buffer(_ id: Int) -> UnsafeMutablePointer<Float> { assigned[id]!.pointer }

    /// Bytes of every buffer the arena holds: the peak the steps so far needed.
    var byteCount: Int { (assigned.values.map(\.capacity).reduce(0, +) + free.map(\.capacity).reduce(0, +)) * 4 }

    deinit {
        for (_, buffer) in assigned { buffer.pointer.deallocate() }
        for buffer in free { buffer.pointer.deallocate() }
    }
}
