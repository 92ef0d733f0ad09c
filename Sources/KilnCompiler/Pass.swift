// A builder pass: one named rewrite or check of a recorded graph, testable on its own.

import KilnGraph

/// A step of the builder. Passes never mutate their input; they return a new graph.
public protocol Pass: Sendable {
    var name: String { get }
    /// The rewritten graph, and counts worth reporting (e.g. how often a rule fired).
    func run(_ graph: Graph) throws(CompileError) -> (graph: Graph, counts: [String: Int])
}

/// Why a graph cannot be built.
public enum CompileError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(node: Int, op: String, detail: String)
    case unknownFusionRule(String, known: [String])

    public var description: String {
        switch self {
        case .shapeMismatch(let node, let op, let detail): "node %\(node) (\(op)): \(detail)"
        case .unknownFusionRule(let name, let known): "unknown fusion rule '\(name)'; rules: \(known.joined(separator: ", "))"
        }
    }
}

extension Node {
    /// Ops that change state outside their output (the attention op writes the KV cache):
    /// never removed or merged even when their value looks unused or repeated.
    var hasSideEffects: Bool { if case .attention = op { true } else { false } }

    /// Ops computed element by element over the output's shape.
    var isElementwise: Bool {
        switch op {
        case .add, .mul, .activation, .fusedElementwise: true
        default: false
        }
    }

    func with(op: Op? = nil, inputs: [Int]? = nil) -> Node {
        Node(op: op ?? self.op, inputs: inputs ?? self.inputs, dtype: dtype, shape: shape)
    }
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
