// Liveness-based placement of every activation in one arena: values whose lifetimes do not
// overlap share bytes. Planned for the largest step an engine accepts, the offsets hold for
// every smaller step too (no value grows when a step shrinks), so a backend allocates the
// arena once and never again.

import KilnTensor

/// The most a single step may hold: what the builder plans memory for.
public struct StepLimits: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Tokens in one step, prefill and decode together (longer prompts run in chunks).
    public var maxNumTokens: Int
    /// Sequences in one step.
    public var maxBatchSize: Int

    public init(maxNumTokens: Int = 2048, maxBatchSize: Int = 64) {
        self.maxNumTokens = maxNumTokens
        self.maxBatchSize = maxBatchSize
    }

    public var description: String { "\(maxNumTokens) tokens, \(maxBatchSize) sequences" }

    enum CodingKeys: String, CodingKey { case maxNumTokens = "max_num_tokens", maxBatchSize = "max_batch_size" }
}

/// Byte offsets of a graph's activations in one arena, for steps up to a given size.
public struct MemoryPlan: Sendable, Equatable {
    /// Offsets are multiples of this, so every value starts on a cache line.
    public static let alignment = 64

    /// Arena offset of each value that owns storage (views read their source's bytes).
    public let offsets: [Int: Int]
    /// The arena: the highest end of any placed value.
    public let arenaBytes: Int
    /// What giving every value its own buffer would take.
    public let unplannedBytes: Int

    /// Plans `graph` for a step of `numTokens` tokens in `numSeqs` sequences: values are
    /// placed largest first at the lowest offset free during their whole lifetime. Nodes of
    /// `readInPlace` get no bytes: the backend reads them inside their first operand.
    /// `extraReads`: values a node's kernel reads besides its operands (a backend's fused
    /// kernel computing an absorbed node from that node's inputs), kept alive until it runs.
    public init(_ graph: Graph, numTokens: Int, numSeqs: Int, readInPlace: Set<Int> = [], extraReads: [Int: [Int]] = [:]) {
        let nodes = graph.nodes
        let lifetimes = graph.lifetimes(readInPlace: readInPlace, extraReads: extraReads)
        // a value nothing reads still occupies its bytes while it is written
        let lastUse = nodes.indices.map { max(lifetimes.lastUse[$0], $0) }
        let size = Self.valueBytes(graph, numTokens: numTokens, numSeqs: numSeqs).filter { !readInPlace.contains($0.key) }
        var placed: [(id: Int, offset: Int)] = []
        var offsets: [Int: Int] = [:]
        for id in size.keys.sorted(by: { (size[$0]!, $1) > (size[$1]!, $0) }) {
            // bytes taken, during this value's lifetime, by values placed before it
            let busy = placed.filter { other in !(lastUse[other.id] < id || lastUse[id] < other.id) }
                .map { ($0.offset, $0.offset + size[$0.id]!) }.sorted { $0.0 < $1.0 }
            var offset = 0
            for (start, end) in busy where start < offset + size[id]! {
                if end > offset { offset = max(offset, end) }
            }
            offsets[id] = offset
            placed.append((id, offset))
        }
        self.offsets = offsets
        arenaBytes = placed.map { $0.offset + size[$0.id]! }.max() ?? 0
        unplannedBytes = size.values.reduce(0, +)
    }

    /// The aligned bytes of each value that needs arena storage, for a step of that size.
    static func valueBytes(_ graph: Graph, numTokens: Int, numSeqs: Int) -> [Int: Int] {
        let nodes = graph.nodes
        return Dictionary(uniqueKeysWithValues: nodes.indices.filter { nodes[$0].ownsActivationStorage }.map { id in
            let elements = nodes[id].shape.map { $0.resolved(numTokens: numTokens, numSeqs: numSeqs) }.reduce(1, *)
            let bytes = nodes[id].dtype.byteCount(elements: elements) ?? elements * 4
            return (id, (bytes + alignment - 1) / alignment * alignment)
        })
    }

    /// What giving every value of `graph` its own buffer takes, without planning it.
    public static func unplannedBytes(_ graph: Graph, numTokens: Int, numSeqs: Int) -> Int {
        valueBytes(graph, numTokens: numTokens, numSeqs: numSeqs).values.reduce(0, +)
    }
}

extension Node {
    /// Whether the node's value needs arena bytes of its own: not weights (bound memory),
    /// step inputs (host integers) or views.
    public var ownsActivationStorage: Bool {
        switch op {
        case .weight, .input: false
        default: !op.isView
        }
    }
}
