// matmul → + bias → activation becomes one matmul whose epilogue adds the bias and applies
// the activation while the output rows are still in cache (the seed's matmul + relu case).

import KilnGraph

public struct MatmulEpilogueFusion: FusionRule {
    public let name = "matmul-epilogue"
    public let summary = "matmul [+ bias vector] [→ relu | sigmoid] → matmul with epilogue"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        let consumers = graph.consumerCounts
        var replacements: [Int: Node] = [:]
        var claimed = Set<Int>()
        for (id, node) in graph.nodes.enumerated() {
            guard case .matmul(let transposeB) = node.op, consumers[id] == 1 else { continue }
            // the single reader of the matmul, and of each step after it
            guard let next = graph.nodes.indices.first(where: { graph.nodes[$0].inputs.contains(id) }) else { continue }
            var end = id, bias: Int?, activation: Activation?
            if case .add = graph.nodes[next].op, graph.nodes[next].inputs.first == id,
               graph.nodes[graph.nodes[next].inputs[1]].shape == [node.shape[1]] {
                bias = graph.nodes[next].inputs[1]
                end = next
            }
            if consumers[end] == 1, let reader = graph.nodes.indices.first(where: { graph.nodes[$0].inputs.contains(end) }),
               case .activation(let kind) = graph.nodes[reader].op {
                activation = kind
                end = reader
            }
            guard end != id, !claimed.contains(end) else { continue }
            claimed.insert(end)
            replacements[end] = graph.nodes[end].with(op: .matmulEpilogue(transposeB: transposeB, bias: bias != nil, activation: activation),
                                                     inputs: node.inputs + (bias.map { [$0] } ?? []))
        }
        return (try rewrite(graph, replacing: replacements), replacements.isEmpty ? [:] : [name: replacements.count])
    }
}
