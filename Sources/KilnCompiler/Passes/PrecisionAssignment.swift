// Gives every value the element type the backend computes in (PrecisionPolicy): float
// weights take the build's storage type, activations the backend's type (the logits stay
// f32), and a weight an op cannot read as stored is widened by a dequantize plugin, which
// constant folding then computes at build time.

import KilnGraph
import KilnTensor

public struct PrecisionAssignment: Pass {
    public let name = "precision-assignment"
    public let policy: PrecisionPolicy

    public init(_ policy: PrecisionPolicy) { self.policy = policy }

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        let outputs = Set(graph.outputs.map { graph.lifetimes.owner[$0] })
        var nodes = graph.nodes
        var converted = 0, widened = 0, retyped = 0
        for (id, node) in graph.nodes.enumerated() {
            switch node.op {
            case .weight(let name):
                if let target = policy.weightType, node.dtype.isPlainFloat, node.dtype != target {
                    nodes[id] = node.with(op: .weight(DerivedWeight.converted(name, to: target)), dtype: target)
                    converted += 1
                }
            case .input:
                break
            default:
                let dtype = node.op.isView ? nodes[node.inputs[0]].dtype : (outputs.contains(id) ? .f32 : policy.activationType)
                if dtype != node.dtype {
                    nodes[id] = node.with(dtype: dtype)
                    retyped += 1
                }
            }
        }
        // weights read where their stored format is not accepted get a dequantize in between
        var added: [Node] = []
        var dequantized: [Int: Int] = [:]
        for (id, node) in nodes.enumerated() {
            var inputs = node.inputs
            for (position, input) in inputs.enumerated() where nodes[input].isWeight && !accepts(node.op, position, nodes[input].dtype) {
                if dequantized[input] == nil {
                    dequantized[input] = nodes.count + added.count
                    added.append(Node(op: .plugin(PluginCall(DequantizePlugin())), inputs: [input], dtype: .f32, shape: nodes[input].shape,
                                      origin: nodes[input].origin))
                    widened += 1
                }
                inputs[position] = dequantized[input]!
            }
            if inputs != node.inputs { nodes[id] = node.with(inputs: inputs) }
        }
        let counts = ["weights converted": converted, "weights widened": widened, "values retyped": retyped].filter { $0.value > 0 }
        guard !counts.isEmpty else { return (graph, [:]) }
        let changed = Dictionary(uniqueKeysWithValues: nodes.indices.filter { nodes[$0] != graph.nodes[$0] }.map { ($0, nodes[$0]) })
        return (try rewrite(graph, replacing: changed, adding: added), counts)
    }

    /// Whether `op` reads its operand at `position` in `format` as stored.
    private func accepts(_ op: Op, _ position: Int, _ format: DType) -> Bool {
        switch (op, position) {
        case (.matmul(transposeB: true), 1), (.matmulEpilogue(transposeB: true, _, _), 1), (.embedding, 0):
            policy.matrixWeightFormats.contains(format)
        case (.plugin(let call), _) where call.plugin is DequantizePlugin:
            true
        case (.embedding, 1):
            true  // the ids
        default:
            format == .f32
        }
    }
}
