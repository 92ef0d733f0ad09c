// Projections of the same input (q, k and v; gate and up) become one GEMM over their
// weights concatenated at build time: one pass over the activations and one kernel launch
// instead of three; slices hand each consumer its part. The rule records the concatenation
// as an op on the weights, and constant folding turns it into one derived weight.

import KilnGraph

public struct ProjectionConcatFusion: FusionRule {
    public let name = "concat-projections"
    public let summary = "matmuls of one input by weights of the same type and width → one matmul over the concatenated weights"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        // weight projections, grouped by (input, weight dtype, weight width)
        var groups: [[Int]] = []
        var groupOf: [String: Int] = [:]
        for (id, node) in graph.nodes.enumerated() {
            guard case .matmul(transposeB: true) = node.op, case .weight = graph.nodes[node.inputs[1]].op else { continue }
            let weight = graph.nodes[node.inputs[1]]
            let key = "\(node.inputs[0])|\(weight.dtype)|\(weight.shape[1])"
            if let g = groupOf[key] { groups[g].append(id) } else { groupOf[key] = groups.count; groups.append([id]) }
        }
        groups.removeAll { $0.count < 2 }

        var replacements: [Int: Node] = [:]
        var added: [Node] = []
        for group in groups {
            let first = graph.nodes[group[0]], weights = group.map { graph.nodes[$0].inputs[1] }
            let rows = weights.reduce(0) { $0 + graph.nodes[$1].shape[0].fixedSize! }
            let weightsID = graph.nodes.count + added.count
            added.append(Node(op: .concat(axis: 0), inputs: weights, dtype: graph.nodes[weights[0]].dtype,
                              shape: [.fixed(rows), graph.nodes[weights[0]].shape[1]]))
            added.append(first.with(inputs: [first.inputs[0], weightsID], shape: [first.shape[0], .fixed(rows)]))
            var offset = 0
            for member in group {
                let node = graph.nodes[member], length = node.shape[1].fixedSize!
                replacements[member] = node.with(op: .slice(axis: 1, start: offset, length: length), inputs: [weightsID + 1])
                offset += length
            }
        }
        guard !groups.isEmpty else { return (graph, [:]) }
        return (try rewrite(graph, replacing: replacements, adding: added), [name: groups.count, "projections merged": groups.reduce(0) { $0 + $1.count }])
    }
}
