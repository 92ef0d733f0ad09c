// Python semantics of values: truthiness, `str()`/`repr()` (what `{{ x }}` prints),
// equality and ordering across ints, floats and bools, and conversion to JSON.

extension JinjaValue {
    var isUndefined: Bool { if case .undefined = self { true } else { false } }

    /// Python truthiness (`Undefined` is falsy).
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s): !s.isEmpty
        case .array(let a), .tuple(let a): !a.isEmpty
        case .object(let o): !o.isEmpty
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
        case .array: "list"
        case .tuple: "tuple"
        case .object: "dict"
        case .namespace: "Namespace"
        case .callable: "function"
        }
    }

    /// The value as a number, bools counting as 0 and 1 (as in Python).
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

    /// Python `str(value)`; undefined prints as nothing.
    var pythonString: String {
        switch self {
        case .undefined: ""
        case .string(let s): s
        default: pythonRepr
        }
    }

    /// Python `repr(value)`.
    var pythonRepr: String {
        switch self {
        case .undefined: ""
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .double(let d): pythonFloatString(d)
        case .string(let s): pythonStringRepr(s)
        case .array(let elements): "[" + elements.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let elements) where elements.count == 1: "(" + elements[0].pythonRepr + ",)"
        case .tuple(let elements): "(" + elements.map(\.pythonRepr).joined(separator: ", ") + ")"
        case .object(let object):
            "{" + object.members.map { pythonStringRepr($0.key) + ": " + $0.value.pythonRepr }.joined(separator: ", ") + "}"
        case .namespace(let namespace):
            "<Namespace " + namespace.attributes.members.map { "\($0.key)=\($0.value.pythonRepr)" }.joined(separator: ", ") + ">"
        case .callable(let callable):
            switch callable.kind {
            case .macro(let macro): "<Macro '\(macro.name)'>"
            case .global(let name): "<function \(name)>"
            case .method(let receiver, let name): "<built-in method \(name) of \(receiver.typeName) object>"
            }
        }
    }

    /// Python `==`: numbers compare by value across int, float and bool; dicts ignore order;
    /// two undefined values are equal (jinja2's `Undefined.__eq__`).
    func pythonEquals(_ other: JinjaValue) -> Bool {
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.pythonEquals($1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.members.allSatisfy { member in b[member.key].map { member.value.pythonEquals($0) } ?? false }
        case (.int(let a), .int(let b)): return a == b
        default:
            if let a = number, let b = other.number { return a == b }
            return self == other
        }
    }

    /// Python `<` and friends; `nil` where Python raises TypeError.
    func pythonCompare(_ other: JinjaValue) -> Int? {
        switch (self, other) {
        case (.int(let a), .int(let b)): return a < b ? -1 : a == b ? 0 : 1
        case (.string(let a), .string(let b)):
            // Python orders strings by code point.
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? -1 : a.unicodeScalars.elementsEqual(b.unicodeScalars) ? 0 : 1
        case (.array(let a), .array(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where !x.pythonEquals(y) { return x.pythonCompare(y) }
            return a.count < b.count ? -1 : a.count == b.count ? 0 : 1
        default:
            guard let a = number, let b = other.number else { return nil }
            return a < b ? -1 : a == b ? 0 : 1
        }
    }

    /// The value as JSON for `tojson`, or the type of the first part json.dumps cannot write.
    func toJSON() -> Result<JSONValue, JSONConversionError> {
        switch self {
        case .none: return .success(.null)
        case .bool(let b): return .success(.bool(b))
        case .int(let i): return .success(.int(i))
        case .double(let d): return .success(.double(d))
        case .string(let s): return .success(.string(s))
        case .array(let elements), .tuple(let elements):
            var array: [JSONValue] = []
            for element in elements {
                switch element.toJSON() {
                case .success(let json): array.append(json)
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.array(array))
        case .object(let object):
            var result = JSONObject()
            for (key, value) in object.members {
                switch value.toJSON() {
                case .success(let json): result[key] = json
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.object(result))
        case .undefined, .namespace, .callable:
            return .failure(JSONConversionError(typeName: typeName))
        }
    }
}

/// A value `json.dumps` cannot serialize.
struct JSONConversionError: Error {
    let typeName: String
}

/// Python `str(float)`: its repr, with `nan` and `inf`.
func pythonFloatString(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d > 0 ? "inf" : "-inf" }
    return pythonFloatRepresentation(d)
}

/// Python `repr(str)`: single quotes unless the text has one and no double quote; control
/// characters escaped.
func pythonStringRepr(_ s: String) -> String {
    let quote: Unicode.Scalar = s.unicodeScalars.contains("'") && !s.unicodeScalars.contains("\"") ? "\"" : "'"
    var out = String.UnicodeScalarView()
    out.append(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
        case "\n": out.append(contentsOf: "\\n".unicodeScalars)
        case "\r": out.append(contentsOf: "\\r".unicodeScalars)
        case "\t": out.append(contentsOf: "\\t".unicodeScalars)
        case quote: out.append("\\"); out.append(quote)
        default:
            if scalar.value < 0x20 || (0x7F...0xA0).contains(scalar.value) {
                let hex = String(scalar.value, radix: 16)
                out.append(contentsOf: ("\\x" + String(repeating: "0", count: 2 - hex.count) + hex).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
    }
    out.append(quote)
    return String(out)
}
