// Ops whose operands are all weights are computed once, at build time: the node becomes a
// derived weight whose name is the recipe (DerivedWeight), which the engine build and refit
// evaluate over the checkpoint's tensors.

import KilnGraph

public struct ConstantFolding: Pass {
    public let name = "constant-folding"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        var current = graph.nodes
        var replacements: [Int: Node] = [:]
        for (id, node) in graph.nodes.enumerated() where !node.inputs.isEmpty {
            let names = node.inputs.compactMap { input -> String? in if case .weight(let name) = current[input].op { name } else { nil } }
            guard names.count == node.inputs.count else { continue }
            let recipe: String
            switch node.op {
            case .concat(axis: 0) where node.shape.count == 2 && node.inputs.allSatisfy({ current[$0].dtype == node.dtype }):
                recipe = DerivedWeight.concatenatedRows(names)
            case .plugin(let call) where call.plugin is DequantizePlugin:
                recipe = current[node.inputs[0]].dtype == .f32 ? names[0] : DerivedWeight.converted(names[0], to: .f32)
            default:
                continue
            }
            let folded = Node(op: .weight(recipe), inputs: [], dtype: node.dtype, shape: node.shape, origin: node.origin)
            replacements[id] = folded
            current[id] = folded
        }
        guard !replacements.isEmpty else { return (graph, [:]) }
        return (try rewrite(graph, replacing: replacements), ["folded": replacements.count])
    }
}
