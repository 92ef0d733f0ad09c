// The values a chat template computes with: Python's data types as jinja2 sees them, plus
// the few template-made objects (namespaces, macros, bound methods).

/// A value inside a chat template. Callers build data values (usually from JSON with
/// `init(_:)`); `namespace` and `callable` only arise while a template renders.
public enum JinjaValue: Sendable, Hashable {
    /// jinja2's `Undefined`: a missing variable, attribute or key. Prints as "", is falsy,
    /// iterates as empty; the name is for the error when it is used otherwise.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    /// A Python list.
    case array([JinjaValue])
    /// A Python tuple: like a list but prints as `(a, b)` and never equals one.
    case tuple([JinjaValue])
    /// A Python dict with string keys, in insertion order.
    case object(JinjaObject)
    /// The mutable object `namespace(...)` returns.
    case namespace(JinjaNamespace)
    /// A macro, a global function or a bound method.
    case callable(JinjaCallable)

    /// The value Python's `json.loads` would give for `json`.
    public init(_ json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let elements): self = .array(elements.map(JinjaValue.init))
        case .object(let object):
            var result = JinjaObject()
            for (key, value) in object.members { result[key] = JinjaValue(value) }
            self = .object(result)
        }
    }
}

/// A dict with string keys that remembers insertion order (as Python dicts do).
public struct JinjaObject: Sendable, Hashable {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    public init(_ members: [(String, JinjaValue)]) {
        for (key, value) in members { self[key] = value }
    }

    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            guard let newValue else {
                if storage.removeValue(forKey: key) != nil { keys.removeAll { $0 == key } }
                return
            }
            if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
        }
    }

    /// Members in insertion order.
    public var members: [(key: String, value: JinjaValue)] { keys.map { ($0, storage[$0]!) } }
    public var values: [JinjaValue] { keys.map { storage[$0]! } }
    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }
}

/// The object `namespace()` makes: attributes a template may assign from inside loops,
/// which is why it has reference semantics. It lives only during one render, on one thread.
public final class JinjaNamespace: @unchecked Sendable, Hashable {
    var attributes: JinjaObject

    init(_ attributes: JinjaObject) { self.attributes = attributes }

    public static func == (a: JinjaNamespace, b: JinjaNamespace) -> Bool { a === b }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// Something a template can call: a macro, a global function, or a method bound to a value.
public struct JinjaCallable: Sendable, Hashable {
    indirect enum Kind: Sendable, Hashable {
        case macro(Macro)
        case global(String)
        case method(receiver: JinjaValue, name: String)
    }

    let kind: Kind
}

/// A macro as defined: compared by identity, since two definitions are different macros.
final class Macro: Sendable, Hashable {
    let name: String
    let parameters: [(name: String, defaultValue: Expr?)]
    let body: [Node]

    init(name: String, parameters: [(name: String, defaultValue: Expr?)], body: [Node]) {
        self.name = name
        self.parameters = parameters
        self.body = body
    }

    static func == (a: Macro, b: Macro) -> Bool { a === b }
    func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
