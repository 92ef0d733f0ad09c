// Removes nodes whose values nothing reads (the leftovers of fusion), renumbering the rest.

import KilnGraph

public struct DeadCodeElimination: Pass {
    public let name = "dead-code-elimination"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        var live = Array(repeating: false, count: graph.nodes.count)
        for output in graph.outputs { live[output] = true }
        for (id, node) in graph.nodes.enumerated() where node.hasSideEffects { live[id] = true }
        for id in graph.nodes.indices.reversed() where live[id] {
            for input in graph.nodes[id].inputs { live[input] = true }
        }
        var newID = Array(repeating: -1, count: graph.nodes.count)
        var nodes: [Node] = []
        for (id, node) in graph.nodes.enumerated() where live[id] {
            newID[id] = nodes.count
            nodes.append(node.with(inputs: node.inputs.map { newID[$0] }))
        }
        let removed = graph.nodes.count - nodes.count
        return (Graph(nodes: nodes, outputs: graph.outputs.map { newID[$0] }), removed > 0 ? ["removed": removed] : [:])
    }
}
