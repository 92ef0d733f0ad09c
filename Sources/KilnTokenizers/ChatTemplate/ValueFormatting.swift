// How values print: Python's `str()` (what `{{ x }}` writes) and `repr()` (how items of a
// printed list or dict appear), so `{{ message }}` reads `{'role': 'user', ...}` as in jinja2.

extension JinjaValue {
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
        case .list(let elements): "[" + elements.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let elements):
            elements.count == 1 ? "(" + elements[0].pythonRepr + ",)" : "(" + elements.map(\.pythonRepr).joined(separator: ", ") + ")"
        case .dict(let dict): "{" + dict.members.map { $0.key.pythonRepr + ": " + $0.value.pythonRepr }.joined(separator: ", ") + "}"
        case .namespace: "<Namespace>"
        case .callable(let callable):
            switch callable.kind {
            case .macro(_, let name): "<Macro '\(name)'>"
            case .global(let name): "<function \(name)>"
            case .method(let receiver, let name): "<built-in method \(name) of \(receiver.typeName) object>"
            case .cycle: "<built-in method cycle of LoopContext object>"
            }
        }
    }
}

/// Python `str(float)`: like its JSON form but with `nan` and `inf`.
func pythonFloatString(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d > 0 ? "inf" : "-inf" }
    return pythonFloatRepresentation(d)
}

/// Python `repr(str)`: single quotes unless the text has one and no double quote; control
/// characters escaped.
func pythonStringRepr(_ s: String) -> String {
    let quote: Unicode.Scalar = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case quote: out += "\\" + String(quote)
        default:
            if scalar.value < 0x20 || (0x7F...0xA0).contains(scalar.value) {
                out += "\\x" + hexDigits(scalar.value, width: 2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out.unicodeScalars.append(quote)
    return out
}

func hexDigits(_ value: UInt32, width: Int) -> String {
    let hex = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - hex.count)) + hex
}
