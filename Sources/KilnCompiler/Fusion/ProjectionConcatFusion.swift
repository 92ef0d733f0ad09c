// Projections of the same input (q, k and v; gate and up) become one GEMM over their
// weights concatenated at build time: one pass over the activations and one kernel launch
// instead of three; slices hand each consumer its part.

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
        guard !groups.isEmpty else { return (graph, [:]) }

        var firstOf: [Int: [Int]] = [:]      // first member → its group
        var memberOf: [Int: Int] = [:]       // member → group's first member
        for group in groups {
            firstOf[group[0]] = group
            for member in group { memberOf[member] = group[0] }
        }
        var nodes: [Node] = []
        var newID = Array(repeating: -1, count: graph.nodes.count)
        var fusedMatmul: [Int: (id: Int, offsets: [Int: Int])] = [:]  // first member → fused matmul and row offsets
        for (id, node) in graph.nodes.enumerated() {
            if let group = firstOf[id] {
                let weights = group.map { graph.nodes[graph.nodes[$0].inputs[1]] }
                let names = weights.map { if case .weight(let n) = $0.op { n } else { "" } }
                var offsets: [Int: Int] = [:], rows = 0
                for (member, weight) in zip(group, weights) {
                    offsets[member] = rows
                    rows += weight.shape[0].fixedSize!
                }
                nodes.append(Node(op: .weight(DerivedWeight.concatenatedRows(names)), inputs: [], dtype: weights[0].dtype,
                                  shape: [.fixed(rows), weights[0].shape[1]]))
                nodes.append(Node(op: .matmul(transposeB: true), inputs: [newID[node.inputs[0]], nodes.count - 1], dtype: node.dtype,
                                  shape: [node.shape[0], .fixed(rows)]))
                fusedMatmul[id] = (nodes.count - 1, offsets)
            }
            if let first = memberOf[id], let fused = fusedMatmul[first] {
                let length = node.shape[1].fixedSize!
                nodes.append(Node(op: .slice(axis: 1, start: fused.offsets[id]!, length: length), inputs: [fused.id],
                                  dtype: node.dtype, shape: node.shape))
            } else {
                nodes.append(node.with(inputs: node.inputs.map { newID[$0] }))
            }
            newID[id] = nodes.count - 1
        }
        let result = try DeadCodeElimination().run(Graph(nodes: nodes, outputs: graph.outputs.map { newID[$0] })).graph
        return (result, [name: groups.count, "projections merged": groups.reduce(0) { $0 + $1.count }])
    }
}
