// Plugins: hand-written kernels as graph nodes. A plugin is a value type with its
// attributes; graphs hold it by name, so model code or a builder rule can insert one, and
// each backend registers a kernel under the same name (the seeds' gpt-attention plugin is
// the model for this).

import KilnTensor
import Synchronization

/// A graph operation that backends implement by hand, identified by `pluginName`.
public protocol Plugin: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The name kernels are registered under and engine files store.
    static var pluginName: String { get }
    /// The result for these operands, or why they do not fit (named in shape errors).
    func result(operands: [ValueType]) -> Result<ValueType, PluginOperandError>
    /// Whether the kernel changes state beyond its result (the attention plugin writes the
    /// KV cache): such nodes are never dropped or merged by the builder.
    var hasSideEffects: Bool { get }
}

extension Plugin {
    public var hasSideEffects: Bool { false }

    /// The plugin compared and hashed as a value, whatever its type.
    var hashableValue: AnyHashable { AnyHashable(self) }
}

/// A value's element type and shape.
public struct ValueType: Hashable, Sendable {
    public var dtype: DType
    public var shape: [Dim]

    public init(_ dtype: DType, _ shape: [Dim]) {
        self.dtype = dtype
        self.shape = shape
    }
}

/// Why a plugin's operands do not fit it.
public struct PluginOperandError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A plugin as a graph node holds it: any registered plugin, compared and hashed by value.
public struct PluginCall: Hashable, Sendable, Codable, CustomStringConvertible {
    public let plugin: any Plugin

    public init(_ plugin: some Plugin) { self.plugin = plugin }

    public var name: String { type(of: plugin).pluginName }
    public var description: String { plugin.description }

    public static func == (a: PluginCall, b: PluginCall) -> Bool { a.plugin.hashableValue == b.plugin.hashableValue }
    public func hash(into hasher: inout Hasher) { hasher.combine(plugin.hashableValue) }

    private enum CodingKeys: String, CodingKey { case name, attributes }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try plugin.encode(to: container.superEncoder(forKey: .attributes))
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .name)
        guard let type = PluginRegistry.type(named: name) else {
            throw DecodingError.dataCorruptedError(forKey: .name, in: container, debugDescription:
                "unknown plugin '\(name)' (this build has \(PluginRegistry.names.joined(separator: ", "))); register it before loading")
        }
        plugin = try type.init(from: container.superDecoder(forKey: .attributes))
    }
}

/// The plugins graphs may hold, by name: Kiln's own, and any a program registers.
public enum PluginRegistry {
    private static let types = Mutex<[String: any Plugin.Type]>(
        Dictionary(uniqueKeysWithValues: [AttentionPlugin.self, DequantizePlugin.self].map { ($0.pluginName, $0) }))

    /// Makes `type` known, so graphs and engines holding it can be decoded.
    public static func register(_ type: any Plugin.Type) {
        types.withLock { $0[type.pluginName] = type }
    }

    public static func type(named name: String) -> (any Plugin.Type)? { types.withLock { $0[name] } }

    public static var names: [String] { types.withLock { $0.keys.sorted() } }
}

/// Records `plugin` applied to `operands`; a mismatch stops at the model code that made it.
public func plugin(_ plugin: some Plugin, _ operands: [Tensor], file: StaticString = #fileID, line: UInt = #line) -> Tensor {
    precondition(!operands.isEmpty, "\(type(of: plugin).pluginName) needs operands")
    switch plugin.result(operands: operands.map { ValueType($0.dtype, $0.shape) }) {
    case .success(let result):
        return operands[0].graph.append(.plugin(PluginCall(plugin)), operands, dtype: result.dtype, shape: result.shape,
                                        origin: "\(file):\(line)")
    case .failure(let error):
        preconditionFailure("\(type(of: plugin).pluginName): \(error)", file: file, line: line)
    }
}
