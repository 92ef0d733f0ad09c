// RoPE moves into the attention plugin: q is rotated where it is read and k where it is
// written into the KV cache, instead of two separate passes over q and k.

import KilnGraph

public struct RopeIntoAttention: FusionRule {
    public let name = "rope-into-attention"
    public let summary = "attention(rope(q), rope(k), v) → attention with RoPE applied to q and to k as it enters the KV cache"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        let consumers = graph.consumerCounts
        var replacements: [Int: Node] = [:]
        for (id, node) in graph.nodes.enumerated() {
            guard case .plugin(let call) = node.op, var attention = call.plugin as? AttentionPlugin, attention.rotary == nil,
                  case .rope(let qRope) = graph.nodes[node.inputs[0]].op, case .rope(let kRope) = graph.nodes[node.inputs[1]].op,
                  qRope == kRope, qRope.dimension == attention.headDim,
                  consumers[node.inputs[0]] == 1, consumers[node.inputs[1]] == 1 else { continue }
            let q = graph.nodes[node.inputs[0]], k = graph.nodes[node.inputs[1]]
            guard q.inputs[1] == k.inputs[1] else { continue }  // the same positions
            attention.rotary = qRope
            replacements[id] = node.with(op: .plugin(PluginCall(attention)), inputs: [q.inputs[0], k.inputs[0], node.inputs[2], q.inputs[1]])
        }
        return (try rewrite(graph, replacing: replacements), replacements.isEmpty ? [:] : [name: replacements.count])
    }
}
