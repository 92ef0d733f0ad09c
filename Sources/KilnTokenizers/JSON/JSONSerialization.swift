// Writing JSON values back out, in the two styles Kiln needs: compact, and Python's
// `json.dumps` (which chat templates' `tojson` reproduces).

extension JSONValue {
    /// Python `json.dumps(value, ensure_ascii=False)` with the given separators and indent.
    /// A `nil` item separator is Python's default: `", "`, or `","` when indenting.
    public func serialized(indent: Int? = nil, itemSeparator: String? = nil, keySeparator: String = ": ", sortKeys: Bool = false) -> String {
        var out = ""
        write(to: &out, indent: indent, level: 0, itemSeparator: itemSeparator ?? (indent == nil ? ", " : ","), keySeparator: keySeparator, sortKeys: sortKeys)
        return out
    }

    private func write(to out: inout String, indent: Int?, level: Int, itemSeparator: String, keySeparator: String, sortKeys: Bool) {
        func newline(_ level: Int) {
            if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
        }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += pythonFloatRepresentation(d)
        case .string(let s): out += quotedJSONString(s)
        case .array(let elements):
            if elements.isEmpty { out += "[]"; return }
            out += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { out += itemSeparator }
                newline(level + 1)
                element.write(to: &out, indent: indent, level: level + 1, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys)
            }
            newline(level)
            out += "]"
        case .object(let object):
            if object.count == 0 { out += "{}"; return }
            out += "{"
            let members = sortKeys ? object.members.sorted { $0.key < $1.key } : object.members
            for (i, member) in members.enumerated() {
                if i > 0 { out += itemSeparator }
                newline(level + 1)
                out += quotedJSONString(member.key) + keySeparator
                member.value.write(to: &out, indent: indent, level: level + 1, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: sortKeys)
            }
            newline(level)
            out += "}"
        }
    }
}

/// A JSON string literal as Python's json module writes it with `ensure_ascii=False`.
public func quotedJSONString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// Python's `repr(float)`: the shortest digits that round-trip, `1.0` for integral values,
/// exponents as `1e+16` (Python switches to them below 1e-4 and from 1e16 on).
public func pythonFloatRepresentation(_ d: Double) -> String {
    if d.isNaN { return "NaN" }
    if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
    var text = "\(d)"  // Swift prints the shortest round-trip digits too
    if let e = text.firstIndex(of: "e") {
        var mantissa = String(text[..<e])
        var exponent = String(text[text.index(after: e)...])
        if mantissa.hasSuffix(".0") { mantissa.removeLast(2) }
        let negative = exponent.hasPrefix("-")
        exponent = exponent.trimmingPrefix(while: { $0 == "-" || $0 == "+" })
        // Swift already uses exponents from 2^53 on; Python only from 1e16.
        if !negative, let power = Int(exponent), power < 16 {
            return expandedPositiveExponent(mantissa: mantissa, power: power)
        }
        if exponent.count < 2 { exponent = "0" + exponent }
        text = mantissa + "e" + (negative ? "-" : "+") + exponent
    }
    return text
}

/// `9.5e15` written out as `9500000000000000.0`.
private func expandedPositiveExponent(mantissa: String, power: Int) -> String {
    let sign = mantissa.hasPrefix("-") ? "-" : ""
    let digits = mantissa.filter(\.isNumber)
    let integerDigits = (mantissa.split(separator: ".").first?.filter(\.isNumber).count ?? 1) + power
    let padded = digits + String(repeating: "0", count: max(0, integerDigits - digits.count))
    let integerPart = padded.prefix(integerDigits)
    let fraction = padded.dropFirst(integerDigits)
    return sign + integerPart + "." + (fraction.isEmpty ? "0" : fraction)
}

private extension String {
    func trimmingPrefix(while predicate: (Character) -> Bool) -> String { String(drop(while: predicate)) }
}
