// Liveness-based placement of every activation in one arena: values whose lifetimes do not
// overlap share bytes. The plan's size is what a step of a given size needs at most.

import KilnGraph

/// Byte offsets of a graph's activations in one arena, for a step of a given size.
public struct MemoryPlan: Sendable, Equatable {
    /// Arena offset of each computed value (reshapes share their source's bytes).
    public let offsets: [Int: Int]
    /// The arena: the highest end of any placed value.
    public let arenaBytes: Int
    /// What giving every value its own buffer would take.
    public let unplannedBytes: Int

    /// Plans `graph` for a step of `numTokens` tokens in `numSeqs` sequences: values are
    /// placed largest first at the lowest offset free during their whole lifetime.
    public init(_ graph: Graph, numTokens: Int, numSeqs: Int) {
        let nodes = graph.nodes
        let lifetimes = graph.lifetimes
        let owner = lifetimes.owner
        // a value nothing reads still occupies its bytes while it is written
        let lastUse = nodes.indices.map { max(lifetimes.lastUse[$0], $0) }
        let values = nodes.indices.filter { id in
            switch nodes[id].op {
            case .weight, .input, .reshape: false
            default: true
            }
        }
        let size = Dictionary(uniqueKeysWithValues: values.map { id in
            (id, nodes[id].shape.map { $0.resolved(numTokens: numTokens, numSeqs: numSeqs) }.reduce(4, *))
        })
        var placed: [(id: Int, offset: Int)] = []
        var offsets: [Int: Int] = [:]
        for id in values.sorted(by: { (size[$0]!, $1) > (size[$1]!, $0) }) {
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
        for (id, node) in nodes.enumerated() where owner[id] != id { if case .reshape = node.op { offsets[id] = offsets[owner[id]] } }
        self.offsets = offsets
        arenaBytes = placed.map { $0.offset + size[$0.id]! }.max() ?? 0
        unplannedBytes = size.values.reduce(0, +)
    }
}
