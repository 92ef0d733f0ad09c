// Python's two string formatting languages, in the subset templates use: `str.format`
// (`"{} {name!r:>8}"`) and printf-style `%` (`"%s: %05.2f" % (a, b)`).

extension Interpreter {
    /// `template.format(*args, **kwargs)`.
    func pythonFormat(_ template: String, _ arguments: CallArguments) throws(ChatTemplateError) -> String {
        var out = ""
        var autoIndex = 0
        var characters = Array(template)[...]
        while let character = characters.popFirst() {
            if character == "}" {
                guard characters.popFirst() == "}" else { throw failure("Single '}' encountered in format string") }
                out.append("}")
                continue
            }
            guard character == "{" else { out.append(character); continue }
            if characters.first == "{" {
                characters.removeFirst()
                out.append("{")
                continue
            }
            guard let close = characters.firstIndex(of: "}") else { throw failure("Single '{' encountered in format string") }
            let field = String(characters[..<close])
            characters = characters[(close + 1)...]
            var spec = ""
            var head = field
            if let colon = field.firstIndex(of: ":") {
                spec = String(field[field.index(after: colon)...])
                head = String(field[..<colon])
            }
            var conversion: Character?
            if let bang = head.firstIndex(of: "!") {
                conversion = head[head.index(after: bang)...].first
                head = String(head[..<bang])
            }
            let value: JinjaValue
            if head.isEmpty {
                guard autoIndex < arguments.positional.count else { throw failure("Replacement index \(autoIndex) out of range for positional args tuple") }
                value = arguments.positional[autoIndex]
                autoIndex += 1
            } else if let index = Int(head) {
                guard index < arguments.positional.count else { throw failure("Replacement index \(index) out of range for positional args tuple") }
                value = arguments.positional[index]
            } else {
                guard let match = arguments.keyword.first(where: { $0.name == head }) else { throw failure("KeyError: '\(head)'") }
                value = match.value
            }
            let text = conversion == "r" ? value.pythonRepr : nil
            out += try formatField(text.map(JinjaValue.string) ?? value, spec: spec)
        }
        return out
    }

    /// `format % values`, for the conversions `s r d i f %` with flags, width and precision.
    func percentFormat(_ format: String, _ values: JinjaValue) throws(ChatTemplateError) -> String {
        var queue: [JinjaValue] = if case .tuple(let items) = values { items } else { [values] }
        var out = ""
        var characters = Array(format)[...]
        while let character = characters.popFirst() {
            guard character == "%" else { out.append(character); continue }
            var key: String?
            if characters.first == "(", let close = characters.firstIndex(of: ")") {
                key = String(characters[(characters.startIndex + 1)..<close])
                characters = characters[(close + 1)...]
            }
            var flags = ""
            while let c = characters.first, "-+ 0#".contains(c) { flags.append(c); characters.removeFirst() }
            var width = ""
            while let c = characters.first, c.isNumber { width.append(c); characters.removeFirst() }
            var precision: String?
            if characters.first == "." {
                characters.removeFirst()
                precision = ""
                while let c = characters.first, c.isNumber { precision!.append(c); characters.removeFirst() }
            }
            guard let type = characters.popFirst() else { throw failure("incomplete format") }
            if type == "%" { out.append("%"); continue }
            let value: JinjaValue
            if let key {
                guard case .dict(let dict) = values, let found = dict[key] else { throw failure("KeyError: '\(key)'") }
                value = found
            } else {
                guard !queue.isEmpty else { throw failure("not enough arguments for format string") }
                value = queue.removeFirst()
            }
            let align = flags.contains("-") ? "<" : flags.contains("0") && type != "s" && type != "r" ? "0>" : ">"
            let spec = (align == "0>" ? "0" : align) + width + (precision.map { "." + ($0.isEmpty ? "0" : $0) } ?? "")
            switch type {
            case "s": out += try formatField(.string(string(of: value)), spec: spec)
            case "r": out += try formatField(.string(value.pythonRepr), spec: spec)
            case "d", "i", "f", "F":
                guard let number = value.number else { throw failure("%\(type) format: a real number is required, not \(value.typeName)") }
                let converted: JinjaValue = type == "f" || type == "F" ? .double(number) : .int(Int(number))
                out += try formatField(converted, spec: spec + (type == "f" || type == "F" ? "f" : "d"))
            default: throw failure("unsupported format character '\(type)'")
            }
        }
        // A mapping is one argument used by key; other leftovers are an error, as in Python.
        if case .dict = values { return out }
        guard queue.isEmpty else { throw failure("not all arguments converted during string formatting") }
        return out
    }

    /// One value under a format spec `[[fill]align][0][width][.precision][type]`.
    func formatField(_ value: JinjaValue, spec: String) throws(ChatTemplateError) -> String {
        var spec = Array(spec)[...]
        var fill: Character = " "
        var align: Character?
        if spec.count >= 2, "<>^".contains(spec[spec.startIndex + 1]) {
            fill = spec.removeFirst()
            align = spec.removeFirst()
        } else if let first = spec.first, "<>^".contains(first) {
            align = spec.removeFirst()
        }
        if spec.first == "0" && align == nil {
            fill = "0"
            align = "="
            spec.removeFirst()
        }
        var width = 0
        while let c = spec.first, let digit = c.wholeNumberValue { width = width * 10 + digit; spec.removeFirst() }
        var precision: Int?
        if spec.first == "." {
            spec.removeFirst()
            var p = 0
            while let c = spec.first, let digit = c.wholeNumberValue { p = p * 10 + digit; spec.removeFirst() }
            precision = p
        }
        let type = spec.popFirst()
        guard spec.isEmpty else { throw failure("Invalid format specifier") }
        var text: String
        switch (type, value) {
        case ("f"?, _), ("F"?, _):
            guard let number = value.number else { throw failure("Unknown format code 'f' for object of type '\(value.typeName)'") }
            text = fixedPoint(number, digits: precision ?? 6)
        case ("d"?, _):
            guard let i = value.integer else { throw failure("Unknown format code 'd' for object of type '\(value.typeName)'") }
            text = String(i)
        case (nil, .string(let s)), ("s"?, .string(let s)):
            text = precision.map { String(s.prefix($0)) } ?? s
        case (nil, _):
            text = string(of: value)
        default:
            throw failure("Unknown format code '\(type!)' for object of type '\(value.typeName)'")
        }
        let padding = max(0, width - text.count)
        let isNumber: Bool = if case .string = value { false } else { true }
        switch align ?? (isNumber ? ">" : "<") {
        case "<": text += String(repeating: fill, count: padding)
        case "^": text = String(repeating: fill, count: padding / 2) + text + String(repeating: fill, count: padding - padding / 2)
        case "=" where text.hasPrefix("-"): text = "-" + String(repeating: fill, count: padding) + text.dropFirst()
        default: text = String(repeating: fill, count: padding) + text
        }
        return text
    }
}

/// `value` with `digits` decimals, rounding half to even on the decimal digits.
func fixedPoint(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return pythonFloatString(value) }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded(.toNearestOrEven)
    guard scaled < 9e18 else { return pythonFloatString(value) }
    var text = String(Int(scaled))
    if digits > 0 {
        if text.count <= digits { text = String(repeating: "0", count: digits - text.count + 1) + text }
        text.insert(".", at: text.index(text.endIndex, offsetBy: -digits))
    }
    return (value < 0 && scaled != 0 ? "-" : "") + text
}
