// The recorded network: an SSA list of nodes, appended to by the free functions in
// Functional.swift as model code runs on symbolic tensors.

import KilnTensor

/// One operation and the value it defines. A node's id is its index in the graph.
public struct Node: Hashable, Sendable, Codable {
    public let op: Op
    public let inputs: [Int]
    public let dtype: DType
    public let shape: [Dim]
    /// Where model code recorded it (`File.swift:line`), for errors; not part of its identity.
    public let origin: String?

    public init(op: Op, inputs: [Int], dtype: DType, shape: [Dim], origin: String? = nil) {
        self.op = op
        self.inputs = inputs
        self.dtype = dtype
        self.shape = shape
        self.origin = origin
    }

    public static func == (a: Node, b: Node) -> Bool { a.op == b.op && a.inputs == b.inputs && a.dtype == b.dtype && a.shape == b.shape }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(op)
        hasher.combine(inputs)
        hasher.combine(dtype)
        hasher.combine(shape)
    }
}

/// A network recorded by running model code on symbolic tensors.
///
/// Recording is single-threaded; the finished node list (`nodes`, `outputs`) is plain data
/// that backends and passes consume.
public final class Graph {
    public private(set) var nodes: [Node] = []
    /// Values the graph produces, in order (for a causal LM: the logits).
    public private(set) var outputs: [Int] = []
    private var weightNodes: [String: Int] = [:]
    private var inputNodes: [StepInputName: Int] = [:]

    public init() {}

    /// A graph made of `nodes` (each reading only earlier ones), as passes rewrite graphs.
    public init(nodes: [Node], outputs: [Int]) {
        precondition(nodes.enumerated().allSatisfy { id, node in node.inputs.allSatisfy { $0 < id } }, "nodes must read only earlier nodes")
        self.nodes = nodes
        self.outputs = outputs
        for (id, node) in nodes.enumerated() {
            switch node.op {
            case .weight(let name): weightNodes[name] = id
            case .input(let name): inputNodes[name] = id
            default: break
            }
        }
    }

    /// Appends a node and returns its value. Shape rules are checked by the caller.
    func append(_ op: Op, _ inputs: [Tensor], dtype: DType, shape: [Dim], origin: String? = nil) -> Tensor {
        for input in inputs {
            precondition(input.graph === self, "operands of \(op) come from different graphs")
        }
        nodes.append(Node(op: op, inputs: inputs.map(\.id), dtype: dtype, shape: shape, origin: origin))
        return Tensor(graph: self, id: nodes.count - 1)
    }

    /// The per-step input `name`; asking twice gives the same value.
    public func input(_ name: StepInputName) -> Tensor {
        if let id = inputNodes[name] { return Tensor(graph: self, id: id) }
        let tensor = append(.input(name), [], dtype: .i32, shape: [.numTokens])
        inputNodes[name] = tensor.id
        return tensor
    }

    /// The value of `parameter` in this graph; a parameter used twice (tied embeddings)
    /// is one node.
    public func weight(_ parameter: Parameter) -> Tensor {
        if let id = weightNodes[parameter.name] { return Tensor(graph: self, id: id) }
        let tensor = append(.weight(parameter.name), [], dtype: parameter.dtype, shape: parameter.shape.map(Dim.fixed))
        weightNodes[parameter.name] = tensor.id
        return tensor
    }

    /// Marks `tensor` as a result of the graph.
    public func markOutput(_ tensor: Tensor) {
        precondition(tensor.graph === self)
        outputs.append(tensor.id)
    }

    /// Names of the weights the graph reads, in first-use order.
    public var weightNames: [String] {
        nodes.compactMap { if case .weight(let name) = $0.op { name } else { nil } }
    }
}

extension Node {
    /// Whether the node is a model weight (bound memory, not computed).
    public var isWeight: Bool { if case .weight = op { true } else { false } }
}

extension Op {
    /// Ops whose result is their operand's storage seen another way (no kernel runs).
    public var isView: Bool {
        switch self {
        case .reshape, .select: true
        default: false
        }
    }
}

/// A symbolic value in a graph: what model code computes with.
public struct Tensor {
    public let graph: Graph
    public let id: Int

    public var node: Node { graph.nodes[id] }
    public var dtype: DType { node.dtype }
    public var shape: [Dim] { node.shape }
    public var rank: Int { shape.count }
}

/// How long each value's storage is needed: what buffer reuse and memory planning read.
public struct ValueLifetimes: Sendable {
    /// Whose storage each node's output is: the node itself, or for a view (reshape,
    /// select: an alias, not a reader) its source's owner.
    public let owner: [Int]
    /// The last node reading each owner's storage: `nodes.count` for graph outputs, -1 for a
    /// value nothing reads.
    public let lastUse: [Int]
}

extension Graph {
    /// The nodes reading each value, in node order (a node reading a value twice is listed twice).
    public var readers: [[Int]] {
        var readers = Array(repeating: [Int](), count: nodes.count)
        for (id, node) in nodes.enumerated() { for input in node.inputs { readers[input].append(id) } }
        return readers
    }

    /// Rows of the table the graph's embedding reads: the token ids a step may hold.
    public var embeddingRows: Int? {
        nodes.first { if case .embedding = $0.op { true } else { false } }.flatMap { nodes[$0.inputs[0]].shape.first?.fixedSize }
    }

    public var lifetimes: ValueLifetimes { lifetimes(readInPlace: []) }

    /// Lifetimes when the nodes of `readInPlace` are also views of their first operand (a
    /// backend whose readers take their elements in place, e.g. strided slices): their
    /// readers keep the source alive.
    public func lifetimes(readInPlace: Set<Int>, extraReads: [Int: [Int]] = [:]) -> ValueLifetimes {
        var owner = Array(nodes.indices)
        var last = Array(repeating: -1, count: nodes.count)
        for (id, node) in nodes.enumerated() {
            if node.op.isView || readInPlace.contains(id) {
                owner[id] = owner[node.inputs[0]]
                continue
            }
            for input in node.inputs + extraReads[id, default: []] { last[owner[input]] = max(last[owner[input]], id) }
        }
        for output in outputs { last[owner[output]] = nodes.count }
        return ValueLifetimes(owner: owner, lastUse: last)
    }
}
