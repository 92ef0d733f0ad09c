// Modules and their parameters: the object side of the Model Definition API. A module
// records ops when called; its parameters name the checkpoint tensors it needs.

import KilnTensor

/// A named model weight. Its `value` is bound to checkpoint data before the graph runs.
public final class Parameter {
    /// The checkpoint name (`model.layers.0.self_attn.q_proj.weight`).
    public let name: String
    public let shape: [Int]
    public let dtype: DType
    /// The bound data; its shape always equals `shape`.
    public private(set) var value: HostTensor?

    public init(_ name: String, shape: [Int], dtype: DType = .f32) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
    }

    /// Binds `tensor`, which must have this parameter's shape (callers check and report).
    public func bind(_ tensor: HostTensor) {
        precondition(tensor.shape == shape, "\(name): bound \(tensor.shape), expected \(shape)")
        value = tensor
    }

    /// This parameter as a value of `graph`.
    public func callAsFunction(in graph: Graph) -> Tensor { graph.weight(self) }
}

/// A piece of a network. Calling it records its ops into the graph of its inputs.
///
/// Parameters are found by reflection over stored properties (parameters, modules, and
/// arrays or optionals of them), so a layer only declares what it holds.
public protocol Module: AnyObject {}

extension Module {
    /// Every parameter of this module and its submodules, each once, in declaration order.
    public func parameters() -> [Parameter] {
        var seen = Set<ObjectIdentifier>()
        var found: [Parameter] = []
        collectParameters(of: self, into: &found, seen: &seen)
        return found
    }
}

private func collectParameters(of value: Any, into found: inout [Parameter], seen: inout Set<ObjectIdentifier>) {
    if let parameter = value as? Parameter {
        if seen.insert(ObjectIdentifier(parameter)).inserted { found.append(parameter) }
        return
    }
    // `as?` looks through optionals, so an optional module is reflected as the module itself
    if let module = value as? Module {
        guard seen.insert(ObjectIdentifier(module)).inserted else { return }
        for child in Mirror(reflecting: module).children { collectParameters(of: child.value, into: &found, seen: &seen) }
        return
    }
    let mirror = Mirror(reflecting: value)
    guard mirror.displayStyle == .optional || mirror.displayStyle == .collection else { return }
    for child in mirror.children { collectParameters(of: child.value, into: &found, seen: &seen) }
}

extension Module {
    /// The data bound to each parameter, by parameter name (unbound parameters are left out).
    public func boundWeights() -> [String: HostTensor] {
        Dictionary(parameters().compactMap { p in p.value.map { (p.name, $0) } }, uniquingKeysWith: { first, _ in first })
    }
}

/// Joins checkpoint name components: `"model.layers" / 3 / "mlp"`.
public func / (prefix: String, component: String) -> String {
    prefix.isEmpty ? component : prefix + "." + component
}

public func / (prefix: String, index: Int) -> String { prefix / String(index) }
