// Computes each distinct value once: a node equal to an earlier one (same op, same inputs)
// is replaced by it.

import KilnGraph

public struct CommonSubexpressionElimination: Pass {
    public let name = "common-subexpression-elimination"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        var canonical = Array(graph.nodes.indices)
        var seen: [Node: Int] = [:]
        var nodes: [Node] = []
        var merged = 0
        for (id, node) in graph.nodes.enumerated() {
            let rewritten = node.with(inputs: node.inputs.map { canonical[$0] })
            if !rewritten.hasSideEffects, let earlier = seen[rewritten] {
                canonical[id] = earlier
                merged += 1
            } else {
                seen[rewritten] = id
            }
            nodes.append(rewritten)
        }
        let result = Graph(nodes: nodes, outputs: graph.outputs.map { canonical[$0] })
        // the duplicates are now unread; dead-code elimination drops them
        return (try DeadCodeElimination().run(result).graph, merged > 0 ? ["merged": merged] : [:])
    }
}
