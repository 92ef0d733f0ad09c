// Python methods templates call on values (`s.strip()`, `d.items()`, `xs.index(x)`), with
// the sandbox's refusal of methods that would mutate a list or dict.

extension Interpreter {
    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
        "upper", "lower", "title", "capitalize", "swapcase", "replace", "find", "rfind", "index", "count",
        "join", "format", "removeprefix", "removesuffix", "isdigit", "isalpha", "isalnum", "isspace",
        "isupper", "islower",
    ]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get", "copy", "pop", "popitem", "update", "setdefault", "clear"]
    static let listMethods: Set<String> = ["index", "count", "copy", "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"]
    /// What ImmutableSandboxedEnvironment refuses to call.
    static let mutatingMethods: Set<String> = ["pop", "popitem", "update", "setdefault", "clear", "append", "extend", "insert", "remove", "reverse", "sort"]

    mutating func callMethod(_ name: String, on receiver: JinjaValue, _ args: CallArguments, line: Int) throws(ChatTemplateError) -> JinjaValue {
        func fail(_ message: String) -> ChatTemplateError { .runtime(line: line, message: message) }
        func stringArgument(_ position: Int, _ key: String) throws(ChatTemplateError) -> String? {
            guard let value = args.value(position, key), value != .none else { return nil }
            guard case .string(let s) = value else { throw fail("TypeError: \(name)() argument must be str, not \(value.typeName)") }
            return s
        }
        if Self.mutatingMethods.contains(name), receiver.typeName == "list" || receiver.typeName == "dict" {
            throw fail("SecurityError: access to attribute '\(name)' of '\(receiver.typeName)' object is unsafe.")
        }
        switch (receiver, name) {
        case (.int(let index0), "loop.cycle"):
            guard !args.positional.isEmpty else { throw fail("no items for cycling given") }
            return args.positional[index0 % args.positional.count]
        case (.object(let object), _):
            switch name {
            case "items": return .array(object.members.map { .tuple([.string($0.key), $0.value]) })
            case "keys": return .array(object.keys.map(JinjaValue.string))
            case "values": return .array(object.values)
            case "copy": return receiver
            default:
                guard let key = args.value(0, "key") else { throw fail("TypeError: get expected at least 1 argument, got 0") }
                if case .string(let k) = key, let value = object[k] { return value }
                return args.value(1, "default") ?? .none
            }
        case (.array(let elements), _), (.tuple(let elements), _):
            guard name != "copy" else { return receiver }
            guard let needle = args.value(0, "value") else { throw fail("TypeError: \(name)() takes exactly one argument (0 given)") }
            if name == "count" { return .int(elements.filter { $0.pythonEquals(needle) }.count) }
            guard let index = elements.firstIndex(where: { $0.pythonEquals(needle) }) else {
                throw fail("ValueError: \(needle.pythonRepr) is not in list")
            }
            return .int(index)
        case (.string(let s), _):
            return try callStringMethod(name, s, args, line: line, stringArgument: stringArgument)
        default:
            throw fail("'\(receiver.typeName) object' has no method '\(name)'")
        }
    }

    private mutating func callStringMethod(_ name: String, _ s: String, _ args: CallArguments, line: Int,
                                           stringArgument: (Int, String) throws(ChatTemplateError) -> String?) throws(ChatTemplateError) -> JinjaValue {
        func fail(_ message: String) -> ChatTemplateError { .runtime(line: line, message: message) }
        switch name {
        case "strip", "lstrip", "rstrip":
            return .string(pythonStrip(s, chars: args.value(0, "chars"), left: name != "rstrip", right: name != "lstrip"))
        case "split", "rsplit":
            let limit = args.value(1, "maxsplit")?.integer ?? -1
            let parts = try pythonSplit(s, separator: try stringArgument(0, "sep"), maxSplit: limit, fromRight: name == "rsplit", line: line)
            return .array(parts.map(JinjaValue.string))
        case "splitlines":
            return .array(pythonSplitLines(s, keepEnds: args.value(0, "keepends")?.isTruthy ?? false).map(JinjaValue.string))
        case "startswith", "endswith":
            guard let argument = args.value(0, "prefix") else { throw fail("TypeError: \(name)() takes at least 1 argument (0 given)") }
            let candidates: [JinjaValue] = if case .tuple(let a) = argument { a } else { [argument] }
            for candidate in candidates {
                guard case .string(let affix) = candidate else { throw fail("TypeError: \(name) first arg must be str or a tuple of str, not \(candidate.typeName)") }
                let scalars = Array(s.unicodeScalars), affixScalars = Array(affix.unicodeScalars)
                if name == "startswith" ? scalars.starts(with: affixScalars) : scalars.reversed().starts(with: affixScalars.reversed()) {
                    return .bool(true)
                }
            }
            return .bool(false)
        case "upper": return .string(s.uppercased())
        case "lower": return .string(s.lowercased())
        case "capitalize": return .string(pythonCapitalize(s))
        case "title": return .string(pythonTitle(s))
        case "swapcase":
            return .string(s.map { $0.isUppercase ? $0.lowercased() : $0.uppercased() }.joined())
        case "replace":
            guard let old = try stringArgument(0, "old"), let new = try stringArgument(1, "new") else { throw fail("TypeError: replace expected 2 arguments") }
            return .string(pythonReplace(s, old, new, count: args.value(2, "count")?.integer))
        case "find", "rfind", "index", "count":
            guard let needle = try stringArgument(0, "sub") else { throw fail("TypeError: \(name)() takes at least 1 argument") }
            let scalars = Array(s.unicodeScalars), needleScalars = Array(needle.unicodeScalars)
            var positions: [Int] = []
            var i = 0
            while i + needleScalars.count <= scalars.count {
                if scalars[i..<i + needleScalars.count].elementsEqual(needleScalars) {
                    positions.append(i)
                    // `count` counts non-overlapping occurrences.
                    if name == "count" { i += max(needleScalars.count, 1); continue }
                }
                i += 1
            }
            if name == "count" { return .int(positions.count + (needleScalars.isEmpty && scalars.isEmpty ? 1 : 0)) }
            guard let found = name == "rfind" ? positions.last : positions.first else {
                if name == "index" { throw fail("ValueError: substring not found") }
                return .int(-1)
            }
            return .int(found)
        case "join":
            var parts: [String] = []
            for item in try iterate(args.value(0, "iterable") ?? .array([]), line: line) {
                guard case .string(let part) = item else { throw fail("TypeError: sequence item \(parts.count): expected str instance, \(item.typeName) found") }
                parts.append(part)
            }
            return .string(parts.joined(separator: s))
        case "format":
            return .string(try pythonFormat(s, args, line: line))
        case "removeprefix", "removesuffix":
            let affix = try stringArgument(0, "prefix") ?? ""
            if name == "removeprefix", s.unicodeScalars.starts(with: affix.unicodeScalars) { return .string(String(String.UnicodeScalarView(s.unicodeScalars.dropFirst(affix.unicodeScalars.count)))) }
            if name == "removesuffix", !affix.isEmpty, s.unicodeScalars.reversed().starts(with: affix.unicodeScalars.reversed()) {
                return .string(String(String.UnicodeScalarView(s.unicodeScalars.dropLast(affix.unicodeScalars.count))))
            }
            return .string(s)
        case "isdigit": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonWhitespace))
        case "isupper": return .bool(s.contains { $0.isCased } && s == s.uppercased())
        default: return .bool(s.contains { $0.isCased } && s == s.lowercased())
        }
    }

    /// `str.format` with `{}`, `{0}` and `{name}` fields (no format specs).
    private func pythonFormat(_ s: String, _ args: CallArguments, line: Int) throws(ChatTemplateError) -> String {
        let characters = Array(s)
        var result = ""
        var autoIndex = 0
        var i = 0
        while i < characters.count {
            let c = characters[i]
            if c == "{" || c == "}", i + 1 < characters.count, characters[i + 1] == c {
                result.append(c)
                i += 2
                continue
            }
            if c == "}" { throw .runtime(line: line, message: "ValueError: Single '}' encountered in format string") }
            guard c == "{" else {
                result.append(c)
                i += 1
                continue
            }
            guard let close = characters[i...].firstIndex(of: "}") else {
                throw .runtime(line: line, message: "ValueError: Single '{' encountered in format string")
            }
            let name = String(characters[(i + 1)..<close])
            let value: JinjaValue?
            if name.isEmpty {
                value = args.positional.indices.contains(autoIndex) ? args.positional[autoIndex] : nil
                autoIndex += 1
            } else if let index = Int(name) {
                value = args.positional.indices.contains(index) ? args.positional[index] : nil
            } else {
                value = args.keyword.last(where: { $0.name == name })?.value
            }
            guard let value else { throw .runtime(line: line, message: "IndexError: replacement field {\(name)} has no argument") }
            result += value.pythonString
            i = close + 1
        }
        return result
    }
}

func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
}

extension String {
    func trimmingPythonWhitespace() -> String { pythonStrip(self, chars: nil, left: true, right: true) }
}

/// Python `str.strip(chars)` / `lstrip` / `rstrip`.
func pythonStrip(_ s: String, chars: JinjaValue?, left: Bool, right: Bool) -> String {
    let set: Set<Unicode.Scalar>? = if case .string(let c)? = chars { Set(c.unicodeScalars) } else { nil }
    let strip = { (scalar: Unicode.Scalar) in set.map { $0.contains(scalar) } ?? isPythonWhitespace(scalar) }
    var scalars = Substring(s).unicodeScalars[...]
    if left { while let first = scalars.first, strip(first) { scalars.removeFirst() } }
    if right { while let last = scalars.last, strip(last) { scalars.removeLast() } }
    return String(String.UnicodeScalarView(scalars))
}

/// Python `str.split` / `rsplit`: on runs of whitespace without a separator.
func pythonSplit(_ s: String, separator: String?, maxSplit: Int, fromRight: Bool, line: Int) throws(ChatTemplateError) -> [String] {
    var scalars = Array(s.unicodeScalars)
    var sep = separator.map { Array($0.unicodeScalars) }
    if let sep, sep.isEmpty { throw .runtime(line: line, message: "ValueError: empty separator") }
    if fromRight { scalars.reverse(); sep?.reverse() }
    var parts: [[Unicode.Scalar]] = []
    var i = 0
    if let sep {
        var start = 0
        while i + sep.count <= scalars.count, maxSplit < 0 || parts.count < maxSplit {
            if scalars[i..<i + sep.count].elementsEqual(sep) {
                parts.append(Array(scalars[start..<i]))
                i += sep.count
                start = i
            } else {
                i += 1
            }
        }
        parts.append(Array(scalars[start...]))
    } else {
        while i < scalars.count {
            while i < scalars.count, isPythonWhitespace(scalars[i]) { i += 1 }
            guard i < scalars.count else { break }
            if maxSplit >= 0, parts.count == maxSplit {
                var end = scalars.count
                while end > i, isPythonWhitespace(scalars[end - 1]) { end -= 1 }
                parts.append(Array(scalars[i..<end]))
                break
            }
            let start = i
            while i < scalars.count, !isPythonWhitespace(scalars[i]) { i += 1 }
            parts.append(Array(scalars[start..<i]))
        }
    }
    if fromRight { parts = parts.reversed().map { $0.reversed() } }
    return parts.map { String(String.UnicodeScalarView($0)) }
}

/// Python `str.splitlines`.
func pythonSplitLines(_ s: String, keepEnds: Bool) -> [String] {
    let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
    let scalars = Array(s.unicodeScalars)
    var lines: [String] = []
    var start = 0
    var i = 0
    while i < scalars.count {
        guard breaks.contains(scalars[i].value) else { i += 1; continue }
        var end = i + 1
        if scalars[i] == "\r", end < scalars.count, scalars[end] == "\n" { end += 1 }
        lines.append(String(String.UnicodeScalarView(scalars[start..<(keepEnds ? end : i)])))
        start = end
        i = end
    }
    if start < scalars.count { lines.append(String(String.UnicodeScalarView(scalars[start...]))) }
    return lines
}

/// Python `str.replace(old, new, count)`.
func pythonReplace(_ s: String, _ old: String, _ new: String, count: Int?) -> String {
    let limit = count.flatMap { $0 < 0 ? nil : $0 } ?? Int.max
    let scalars = Array(s.unicodeScalars), oldScalars = Array(old.unicodeScalars)
    var result = String.UnicodeScalarView()
    var replaced = 0
    if oldScalars.isEmpty {
        // Python inserts `new` before every character and at the end.
        for scalar in scalars {
            if replaced < limit { result.append(contentsOf: new.unicodeScalars); replaced += 1 }
            result.append(scalar)
        }
        if replaced < limit { result.append(contentsOf: new.unicodeScalars) }
        return String(result)
    }
    var i = 0
    while i < scalars.count {
        if replaced < limit, i + oldScalars.count <= scalars.count, scalars[i..<i + oldScalars.count].elementsEqual(oldScalars) {
            result.append(contentsOf: new.unicodeScalars)
            i += oldScalars.count
            replaced += 1
        } else {
            result.append(scalars[i])
            i += 1
        }
    }
    return String(result)
}

/// Python `str.capitalize`: first character upper-cased, the rest lower-cased.
func pythonCapitalize(_ s: String) -> String {
    guard let first = s.first else { return s }
    return first.uppercased() + s.dropFirst().lowercased()
}

/// Python `str.title`: upper-case a cased character that follows an uncased one.
func pythonTitle(_ s: String) -> String {
    var result = ""
    var previousCased = false
    for character in s {
        result += previousCased ? character.lowercased() : character.uppercased()
        previousCased = character.isCased
    }
    return result
}
