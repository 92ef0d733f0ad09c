// The residual stream's add and the RMSNorm that reads it run as one kernel: each row is
// summed, written back as the new residual and normalized while it is still in cache. The
// fused node has two results, read through `select` views.

import KilnGraph

public struct ResidualRMSNormFusion: FusionRule {
    public let name = "residual-rmsnorm"
    public let summary = "h = x + r; rmsNorm(h) → one pass writing both h and its normalized rows"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        var replacements: [Int: Node] = [:]
        var added: [Node] = []
        for (id, node) in graph.nodes.enumerated() {
            guard case .rmsNorm(let eps) = node.op, replacements[node.inputs[0]] == nil else { continue }
            let sumID = node.inputs[0], sum = graph.nodes[sumID]
            guard case .add = sum.op, sum.inputs.allSatisfy({ graph.nodes[$0].shape == sum.shape }) else { continue }
            let fused = graph.nodes.count + added.count
            added.append(Node(op: .residualRMSNorm(eps: eps), inputs: sum.inputs + [node.inputs[1]], dtype: node.dtype,
                              shape: [.fixed(2)] + node.shape, origin: node.origin))
            replacements[sumID] = sum.with(op: .select(0), inputs: [fused])
            replacements[id] = node.with(op: .select(1), inputs: [fused])
        }
        return (try rewrite(graph, replacing: replacements, adding: added), added.isEmpty ? [:] : [name: added.count])
    }
}
