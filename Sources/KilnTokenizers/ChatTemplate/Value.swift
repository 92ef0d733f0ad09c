// The values a chat template computes with, modelled on the Python objects jinja2 sees:
// JSON-like data plus tuples, `Undefined`, namespaces and callables.

/// A value inside a chat template, with Python's distinctions (ints vs floats, lists vs tuples).
public enum JinjaValue: Sendable, Hashable {
    /// jinja2's `Undefined`: prints as "", is falsy, iterates as empty; most other uses fail
    /// with the message it carries ("'x' is undefined").
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([JinjaValue])
    case tuple([JinjaValue])
    case dict(JinjaDict)
    /// A `namespace(...)` object; its attributes live in the render that created it.
    case namespace(JinjaNamespace)
    /// A macro, global function or bound method.
    case callable(JinjaCallable)

    /// The JSON value as a template sees it: objects become dicts, arrays lists.
    public init(_ json: JSONValue) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let elements): self = .list(elements.map(JinjaValue.init))
        case .object(let object):
            var dict = JinjaDict()
            for (key, value) in object.members { dict[.string(key)] = JinjaValue(value) }
            self = .dict(dict)
        }
    }

    /// The value as JSON (tuples become arrays); `nil` where JSON has no equivalent
    /// (undefined, namespaces, callables, dicts whose keys are not strings).
    public var json: JSONValue? {
        switch self {
        case .undefined, .namespace, .callable: return nil
        case .none: return JSONValue.null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .list(let elements), .tuple(let elements):
            var array: [JSONValue] = []
            for element in elements {
                guard let json = element.json else { return nil }
                array.append(json)
            }
            return .array(array)
        case .dict(let dict):
            var object = JSONObject()
            for (key, value) in dict.members {
                guard case .string(let name) = key, let json = value.json else { return nil }
                object[name] = json
            }
            return .object(object)
        }
    }

    var isUndefined: Bool { if case .undefined = self { true } else { false } }

    /// Python truthiness (`Undefined` is falsy).
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .list(let a), .tuple(let a): !a.isEmpty
        case .dict(let d): d.count > 0
        case .namespace, .callable: true
        }
    }

    /// Python's type name, for error messages ("'int' object is not iterable").
    var typeName: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .list: "list"
        case .tuple: "tuple"
        case .dict: "dict"
        case .namespace: "Namespace"
        case .callable: "function"
        }
    }

    /// The number as a double (bools count, as in Python).
    var number: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// The value as a Python int (bools count).
    var integer: Int? {
        switch self {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }
}

/// A Python dict: members in insertion order, looked up by key.
public struct JinjaDict: Sendable, Hashable {
    private(set) var keys: [JinjaValue] = []
    private var storage: [JinjaValue: JinjaValue] = [:]

    public init() {}

    init(_ members: [(JinjaValue, JinjaValue)]) {
        for (key, value) in members { self[key] = value }
    }

    subscript(key: JinjaValue) -> JinjaValue? {
        get { storage[Self.normalized(key)] }
        set {
            let key = Self.normalized(key)
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    subscript(name: String) -> JinjaValue? {
        get { self[.string(name)] }
        set { self[.string(name)] = newValue }
    }

    var members: [(key: JinjaValue, value: JinjaValue)] { keys.map { ($0, storage[$0]!) } }
    var values: [JinjaValue] { keys.map { storage[$0]! } }
    var count: Int { keys.count }

    /// Python hashes `True`, `1` and `1.0` alike: one key.
    private static func normalized(_ key: JinjaValue) -> JinjaValue {
        switch key {
        case .bool(let b): .int(b ? 1 : 0)
        case .double(let d) where d == d.rounded() && abs(d) < 9e18: .int(Int(d))
        default: key
        }
    }
}

/// A handle to a `namespace()` object of one render.
public struct JinjaNamespace: Sendable, Hashable {
    let id: Int
}

/// Something a template can call: a macro of one render, a global function, or a method
/// bound to its receiver.
public struct JinjaCallable: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case global(String)
        case macro(id: Int, name: String)
        indirect case method(receiver: JinjaValue, name: String)
        /// `loop.cycle(...)` at a given `loop.index0`.
        case cycle(index0: Int)
    }

    let kind: Kind
}
