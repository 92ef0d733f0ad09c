// Chains of elementwise ops become one generated kernel: `silu(x) = x · σ(x)` and
// `silu(gate) · up` run as a single pass instead of three, writing one output.

import KilnGraph

public struct ElementwiseChainFusion: FusionRule {
    public let name = "elementwise-chain"
    public let summary = "connected add / mul / activation ops with single readers → one fused kernel"
    public init() {}

    public func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int]) {
        let consumers = graph.consumerCounts
        let readers = graph.readers
        var replacements: [Int: Node] = [:]
        var fusedOps = 0
        for (root, node) in graph.nodes.enumerated() where node.isFusible {
            // a root is where a chain ends: its value leaves the chain
            let endsChain = consumers[root] != 1 || readers[root].contains { reader in
                !graph.nodes[reader].isElementwise || graph.nodes[reader].shape != node.shape
            }
            guard endsChain else { continue }
            var steps: [ElementwiseProgram.Step] = [], leaves: [Int] = [], ops = 0
            // Emits `id` as a step: fused inline when it is an elementwise node of the same
            // shape read only here, else as an operand of the kernel.
            func emit(_ id: Int, isRoot: Bool = false) -> Int {
                let producer = graph.nodes[id]
                let inline = isRoot || (producer.isFusible && consumers[id] == 1 && producer.shape == node.shape)
                if inline {
                    ops += 1
                    switch producer.op {
                    case .add: steps.append(.add(emit(producer.inputs[0]), emit(producer.inputs[1])))
                    case .mul: steps.append(.mul(emit(producer.inputs[0]), emit(producer.inputs[1])))
                    case .activation(let kind): steps.append(.activation(kind, emit(producer.inputs[0])))
                    default: preconditionFailure("only add, mul and activation are inlined")
                    }
                    return steps.count - 1
                }
                let leaf = leaves.firstIndex(of: id) ?? { leaves.append(id); return leaves.count - 1 }()
                steps.append(.input(leaf))
                return steps.count - 1
            }
            _ = emit(root, isRoot: true)
            guard ops >= 2 else { continue }
            fusedOps += ops
            replacements[root] = node.with(op: .fusedElementwise(ElementwiseProgram(steps: steps)), inputs: leaves)
        }
        return (try rewrite(graph, replacing: replacements), replacements.isEmpty ? [:] : [name: replacements.count, "ops fused": fusedOps])
    }
}

extension Node {
    /// The elementwise ops a chain is made of (a chain already fused stays an operand).
    var isFusible: Bool {
        switch op {
        case .add, .mul, .activation: true
        default: false
        }
    }
}
