// A builder pass: one named rewrite or check of a recorded graph, testable on its own.

import KilnGraph
import KilnTensor

/// A step of the builder. Passes never mutate their input; they return a new graph.
public protocol Pass: Sendable {
    var name: String { get }
    /// The rewritten graph, and counts worth reporting (e.g. how often a rule fired).
    func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int])
}

/// Why a graph cannot be built.
public enum CompileError: Error, CustomStringConvertible, Equatable {
    /// `node` names the node, its op and the model code that recorded it.
    case shapeMismatch(node: String, detail: String)
    case unknownFusionRule(String, known: [String])

    public var description: String {
        switch self {
        case .shapeMismatch(let node, let detail): "\(node): \(detail)"
        case .unknownFusionRule(let name, let known): "unknown fusion rule '\(name)'; rules: \(known.joined(separator: ", "))"
        }
    }
}

extension Node {
    /// Ops that change state outside their output (the attention op writes the KV cache):
    /// never removed or merged even when their value looks unused or repeated.
    var hasSideEffects: Bool { if case .plugin(let call) = op { call.plugin.hasSideEffects } else { false } }

    /// Ops computed element by element over the output's shape.
    var isElementwise: Bool {
        switch op {
        case .add, .mul, .activation, .fusedElementwise: true
        default: false
        }
    }

    func with(op: Op? = nil, inputs: [Int]? = nil, dtype: DType? = nil, shape: [Dim]? = nil) -> Node {
        Node(op: op ?? self.op, inputs: inputs ?? self.inputs, dtype: dtype ?? self.dtype, shape: shape ?? self.shape, origin: origin)
    }

    /// Where the node came from, for error messages: its id, op and the model code that made it.
    func citation(_ id: Int) -> String { "node %\(id) (\(op))" + (origin.map { ", recorded at \($0)" } ?? "") }
}

extension Graph {
    /// How many nodes (and graph outputs) read each value.
    var consumerCounts: [Int] {
        var counts = Array(repeating: 0, count: nodes.count)
        for node in nodes { for input in node.inputs { counts[input] += 1 } }
        for output in outputs { counts[output] += 1 }
        return counts
    }
}

/// Rewrites `graph`: nodes in `replacements` take the place of those ids, and `added` nodes
/// get the ids after the last one. Any node may read any other; the result is put back in
/// dependency order (otherwise keeping the original order) and what became unread is dropped.
func rewrite(_ graph: Graph, replacing replacements: [Int: Node], adding added: [Node] = []) throws(CompileError) -> Graph {
    let nodes = graph.nodes.enumerated().map { id, node in replacements[id] ?? node } + added
    // depth-first, inputs before readers, roots taken in id order
    var order: [Int] = []
    var state = Array(repeating: 0, count: nodes.count)  // 0 new, 1 on the stack, 2 placed
    for root in nodes.indices where state[root] == 0 {
        var stack = [(id: root, next: 0)]
        state[root] = 1
        while let top = stack.last {
            let inputs = nodes[top.id].inputs
            if top.next < inputs.count {
                stack[stack.count - 1].next += 1
                let input = inputs[top.next]
                precondition(state[input] != 1, "a rewrite made a cycle through node %\(input)")
                if state[input] == 0 {
                    state[input] = 1
                    stack.append((input, 0))
                }
            } else {
                stack.removeLast()
                state[top.id] = 2
                order.append(top.id)
            }
        }
    }
    var newID = Array(repeating: -1, count: nodes.count)
    for (position, id) in order.enumerated() { newID[id] = position }
    let sorted = order.map { nodes[$0].with(inputs: nodes[$0].inputs.map { newID[$0] }) }
    return try DeadCodeElimination().run(Graph(nodes: sorted, outputs: graph.outputs.map { newID[$0] })).graph
}
