// Python methods called on template values: `s.strip()`, `d.items()`, `xs.index(x)`, …
// with Python's semantics (strings count and index by code point).

extension Interpreter {
    func callMethod(_ name: String, of receiver: JinjaValue, _ arguments: CallArguments) throws(ChatTemplateError) -> JinjaValue {
        switch receiver {
        case .string(let s): return try callStringMethod(name, s, arguments)
        case .dict(let dict): return try callDictMethod(name, dict, arguments)
        case .list(let items), .tuple(let items): return try callListMethod(name, items, receiver, arguments)
        default: throw failure("'\(receiver.typeName)' object has no method '\(name)'")
        }
    }

    private func callDictMethod(_ name: String, _ dict: JinjaDict, _ arguments: CallArguments) throws(ChatTemplateError) -> JinjaValue {
        switch name {
        case "items":
            _ = try arguments.bind([], to: "items")
            return .list(dict.members.map { .tuple([$0.key, $0.value]) })
        case "keys":
            _ = try arguments.bind([], to: "keys")
            return .list(dict.keys)
        case "values":
            _ = try arguments.bind([], to: "values")
            return .list(dict.values)
        case "get":
            let bound = try arguments.bind(["key", "default"], to: "get")
            guard let key = bound[0] else { throw failure("get expected at least 1 argument, got 0") }
            return dict[key] ?? bound[1] ?? .none
        case "copy":
            return .dict(dict)
        default:
            throw failure("dict.\(name)() is not supported")
        }
    }

    private func callListMethod(_ name: String, _ items: [JinjaValue], _ receiver: JinjaValue, _ arguments: CallArguments) throws(ChatTemplateError) -> JinjaValue {
        switch name {
        case "index":
            let bound = try arguments.bind(["value"], to: "index")
            guard let value = bound[0] else { throw failure("index expected 1 argument, got 0") }
            guard let index = items.firstIndex(where: { pythonEquals($0, value) }) else {
                throw failure("\(value.pythonRepr) is not in \(receiver.typeName)")
            }
            return .int(index)
        case "count":
            let bound = try arguments.bind(["value"], to: "count")
            guard let value = bound[0] else { throw failure("count expected 1 argument, got 0") }
            return .int(items.filter { pythonEquals($0, value) }.count)
        case "copy":
            return receiver
        default:
            throw failure("list.\(name)() is not supported")
        }
    }

    private func callStringMethod(_ name: String, _ s: String, _ arguments: CallArguments) throws(ChatTemplateError) -> JinjaValue {
        /// The argument at `index` as a string, or nil when absent or None.
        func text(_ bound: [JinjaValue?], _ index: Int) throws(ChatTemplateError) -> String? {
            switch bound[index] {
            case nil, .none?: return nil
            case .string(let t)?: return t
            case let other?: throw failure("\(name)() argument must be str or None, not \(other.typeName)")
            }
        }
        func integer(_ bound: [JinjaValue?], _ index: Int, _ defaultValue: Int) throws(ChatTemplateError) -> Int {
            guard let value = bound[index] else { return defaultValue }
            guard let i = value.integer else { throw failure("\(name)() expected an integer, got \(value.typeName)") }
            return i
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try text(try arguments.bind(["chars"], to: name), 0)
            return .string(pythonStrip(s, chars: chars, leading: name != "rstrip", trailing: name != "lstrip"))
        case "split", "rsplit":
            let bound = try arguments.bind(["sep", "maxsplit"], to: name)
            let separator = try text(bound, 0)
            if separator == "" { throw failure("empty separator") }
            let parts = pythonSplit(s, separator: separator, maxSplit: try integer(bound, 1, -1), fromRight: name == "rsplit")
            return .list(parts.map(JinjaValue.string))
        case "splitlines":
            _ = try arguments.bind([], to: name)
            return .list(pythonSplitLines(s).map(JinjaValue.string))
        case "startswith", "endswith":
            let bound = try arguments.bind(["prefix"], to: name)
            let candidates: [JinjaValue]
            switch bound[0] {
            case .string?: candidates = [bound[0]!]
            case .tuple(let items)?: candidates = items
            default: throw failure("\(name) first arg must be str or a tuple of str")
            }
            let scalars = Array(s.unicodeScalars)
            for candidate in candidates {
                guard case .string(let affix) = candidate else { throw failure("\(name) first arg must be str or a tuple of str") }
                let affixScalars = Array(affix.unicodeScalars)
                let matches = name == "startswith" ? scalars.starts(with: affixScalars) : scalars.reversed().starts(with: affixScalars.reversed())
                if matches { return .bool(true) }
            }
            return .bool(false)
        case "upper": return .string(s.uppercased())
        case "lower", "casefold": return .string(s.lowercased())
        case "title": return .string(pythonTitle(s))
        case "capitalize": return .string(pythonCapitalize(s))
        case "swapcase":
            return .string(String(s.map { $0.isUppercase ? Character($0.lowercased()) : $0.isLowercase ? Character($0.uppercased()) : $0 }))
        case "replace":
            let bound = try arguments.bind(["old", "new", "count"], to: name)
            guard let old = try text(bound, 0), let new = try text(bound, 1) else { throw failure("replace() takes at least 2 arguments") }
            return .string(pythonReplace(s, old, new, count: try integer(bound, 2, -1)))
        case "find", "rfind", "index", "rindex", "count":
            let bound = try arguments.bind(["sub"], to: name)
            guard let needle = try text(bound, 0) else { throw failure("\(name)() takes a string argument") }
            let positions = occurrences(of: needle, in: s)
            if name == "count" { return .int(positions.count) }
            guard let position = name.hasPrefix("r") ? positions.last : positions.first else {
                if name.hasSuffix("index") { throw failure("substring not found") }
                return .int(-1)
            }
            return .int(position)
        case "join":
            let bound = try arguments.bind(["iterable"], to: name)
            var parts: [String] = []
            for element in try elements(of: bound[0] ?? .list([])) {
                guard case .string(let part) = element else { throw failure("sequence item: expected str instance, \(element.typeName) found") }
                parts.append(part)
            }
            return .string(parts.joined(separator: s))
        case "removeprefix", "removesuffix":
            guard let affix = try text(try arguments.bind(["affix"], to: name), 0) else { return .string(s) }
            if name == "removeprefix" { return .string(s.hasPrefix(affix) ? String(s.dropFirst(affix.count)) : s) }
            return .string(s.hasSuffix(affix) ? String(s.dropLast(affix.count)) : s)
        case "isdigit", "isdecimal", "isnumeric":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(\.properties.isAlphabetic))
        case "isalnum":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(isPythonWhitespace))
        case "islower": return .bool(s.contains { $0.isCased } && !s.contains { $0.isUppercase })
        case "isupper": return .bool(s.contains { $0.isCased } && !s.contains { $0.isLowercase })
        case "format": return .string(try pythonFormat(s, arguments))
        default: throw failure("str.\(name)() is not supported")
        }
    }
}

/// Offsets (in code points) where `needle` starts in `s`, not overlapping, as Python counts.
func occurrences(of needle: String, in s: String) -> [Int] {
    let hay = Array(s.unicodeScalars), pattern = Array(needle.unicodeScalars)
    if pattern.isEmpty { return Array(0...hay.count) }
    var positions: [Int] = []
    var i = 0
    while i + pattern.count <= hay.count {
        if hay[i..<i + pattern.count].elementsEqual(pattern) {
            positions.append(i)
            i += pattern.count
        } else {
            i += 1
        }
    }
    return positions
}

func pythonStrip(_ s: String, chars: String?, leading: Bool = true, trailing: Bool = true) -> String {
    let set = chars.map { Set($0.unicodeScalars) }
    let strip: (Unicode.Scalar) -> Bool = { set?.contains($0) ?? isPythonWhitespace($0) }
    let scalars = Array(s.unicodeScalars)
    var start = 0, end = scalars.count
    if leading { while start < end && strip(scalars[start]) { start += 1 } }
    if trailing { while end > start && strip(scalars[end - 1]) { end -= 1 } }
    return String(String.UnicodeScalarView(scalars[start..<end]))
}

/// `str.split` / `str.rsplit`: by a separator, or by whitespace runs when it is nil.
func pythonSplit(_ s: String, separator: String?, maxSplit: Int, fromRight: Bool = false) -> [String] {
    if fromRight {
        // Splitting from the right is splitting the reversed text from the left.
        func reversed(_ t: String) -> String { String(String.UnicodeScalarView(t.unicodeScalars.reversed())) }
        return pythonSplit(reversed(s), separator: separator.map(reversed), maxSplit: maxSplit).map(reversed).reversed()
    }
    let scalars = Array(s.unicodeScalars)
    let limit = maxSplit < 0 ? Int.max : maxSplit
    func string(_ range: Range<Int>) -> String { String(String.UnicodeScalarView(scalars[range])) }
    var parts: [String] = []
    guard let separator else {
        var i = 0
        while i < scalars.count {
            while i < scalars.count && isPythonWhitespace(scalars[i]) { i += 1 }
            guard i < scalars.count else { break }
            if parts.count == limit {
                parts.append(string(i..<scalars.count))
                break
            }
            let start = i
            while i < scalars.count && !isPythonWhitespace(scalars[i]) { i += 1 }
            parts.append(string(start..<i))
        }
        return parts
    }
    var start = 0
    for position in occurrences(of: separator, in: s).prefix(limit) {
        parts.append(string(start..<position))
        start = position + separator.unicodeScalars.count
    }
    parts.append(string(start..<scalars.count))
    return parts
}

/// `str.splitlines()`: breaks at every Python line boundary, `\r\n` counting once.
func pythonSplitLines(_ s: String) -> [String] {
    var lines: [String] = []
    var line = String.UnicodeScalarView()
    var iterator = s.unicodeScalars.makeIterator()
    var pending = iterator.next()
    while let scalar = pending {
        pending = iterator.next()
        switch scalar.value {
        case 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029:
            if scalar == "\r" && pending == "\n" { pending = iterator.next() }
            lines.append(String(line))
            line = String.UnicodeScalarView()
        default:
            line.append(scalar)
        }
    }
    if !line.isEmpty { lines.append(String(line)) }
    return lines
}

func pythonReplace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
    let scalars = Array(s.unicodeScalars)
    let positions = occurrences(of: old, in: s).prefix(count < 0 ? Int.max : count)
    var out = String.UnicodeScalarView()
    var start = 0
    for position in positions {
        out.append(contentsOf: scalars[start..<position])
        out.append(contentsOf: new.unicodeScalars)
        start = position + old.unicodeScalars.count
        if old.isEmpty && position < scalars.count {
            out.append(scalars[position])
            start = position + 1
        }
    }
    if start < scalars.count { out.append(contentsOf: scalars[start...]) }
    return String(out)
}

/// `str.title()`: a letter after a non-letter is upper-cased, other letters lower-cased.
func pythonTitle(_ s: String) -> String {
    var out = ""
    var previousCased = false
    for character in s {
        out += previousCased ? character.lowercased() : character.uppercased()
        previousCased = character.isCased
    }
    return out
}

/// `str.capitalize()`: the first character upper-cased, the rest lower-cased.
func pythonCapitalize(_ s: String) -> String {
    guard let first = s.first else { return s }
    return first.uppercased() + s.dropFirst().lowercased()
}
