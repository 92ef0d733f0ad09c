// JSON documents as values that keep object keys in file order: chat templates print
// objects back out (`tojson`) in the order Python would, and tokenizer files are large
// enough that a hand-written parser pays for itself.

/// A parsed JSON value. Integers stay integers (`1` and `1.0` print differently).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var object: JSONObject? { if case .object(let o) = self { o } else { nil } }
    public var isNull: Bool { self == .null }

    /// The value as an integer (a double with no fraction counts).
    public var int: Int? {
        switch self {
        case .int(let i): i
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: Int(d)
        default: nil
        }
    }

    /// The value as a double (integers convert).
    public var double: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    /// `self[key]` of an object; `nil` for other values or a missing key.
    public subscript(key: String) -> JSONValue? { object?[key] }
}

/// A JSON object: its members in file order, with lookup by key (the last duplicate wins,
/// as in Python). Keys are compared by their bytes: canonically equivalent spellings are
/// distinct keys, as in JSON (tokenizer vocabularies have such pairs).
public struct JSONObject: Sendable, Hashable {
    public private(set) var keys: [String] = []
    private var values: [JSONValue] = []
    private var index: [ExactString: Int] = [:]

    public init() {}

    public init(_ members: [(String, JSONValue)]) {
        for (key, value) in members { self[key] = value }
    }

    public subscript(key: String) -> JSONValue? {
        get { index[ExactString(key)].map { values[$0] } }
        set {
            let exact = ExactString(key)
            if let newValue {
                if let position = index[exact] {
                    values[position] = newValue
                } else {
                    index[exact] = keys.count
                    keys.append(key)
                    values.append(newValue)
                }
            } else if let position = index.removeValue(forKey: exact) {
                keys.remove(at: position)
                values.remove(at: position)
                for (i, key) in keys.enumerated().dropFirst(position) { index[ExactString(key)] = i }
            }
        }
    }

    /// Members in file order.
    public var members: [(key: String, value: JSONValue)] { zip(keys, values).map { ($0, $1) } }
    public var count: Int { keys.count }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.keys.map(ExactString.init) == rhs.keys.map(ExactString.init) && lhs.values == rhs.values
    }

    public func hash(into hasher: inout Hasher) {
        for key in keys { hasher.combine(ExactString(key)) }
        hasher.combine(values)
    }
}
