// jinja2's built-in filters that chat templates use, with jinja2 3.1's argument names and
// defaults, and transformers' `tojson` (json.dumps without HTML escaping).

extension Interpreter {
    mutating func applyFilter(_ filter: FilterCall, to value: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        try self.filter(filter.name, value, try evaluateArguments(filter.arguments), line: filter.line)
    }

    mutating func filter(_ name: String, _ value: JinjaValue, _ args: CallArguments, line: Int) throws(ChatTemplateError) -> JinjaValue {
        func fail(_ message: String) -> ChatTemplateError { .runtime(line: line, message: "filter '\(name)': \(message)") }
        func flag(_ position: Int, _ key: String) -> Bool { args.value(position, key)?.isTruthy ?? false }
        switch name {
        case "safe":
            return value
        case "string":
            return .string(value.pythonString)
        case "trim":
            return .string(pythonStrip(value.pythonString, chars: args.value(0, "chars"), left: true, right: true))
        case "upper":
            return .string(value.pythonString.uppercased())
        case "lower":
            return .string(value.pythonString.lowercased())
        case "capitalize":
            return .string(pythonCapitalize(value.pythonString))
        case "title":
            return .string(jinjaTitle(value.pythonString))
        case "e", "escape":
            return .string(htmlEscape(value.pythonString))
        case "length", "count":
            return .int(try length(of: value, line: line))
        case "default", "d":
            let fallback = args.value(0, "default_value") ?? .string("")
            return value.isUndefined || (flag(1, "boolean") && !value.isTruthy) ? fallback : value
        case "tojson":
            return .string(try toJSON(value, args, line: line))
        case "list":
            return .array(try iterate(value, line: line))
        case "first":
            return try iterate(value, line: line).first ?? .undefined("no first item, sequence was empty")
        case "last":
            return try iterate(value, line: line).last ?? .undefined("no last item, sequence was empty")
        case "reverse":
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .array(try iterate(value, line: line).reversed())
        case "join":
            let separator = args.value(0, "d")?.pythonString ?? ""
            var items = try iterate(value, line: line)
            if let attribute = args.value(1, "attribute") { items = try items.map { v throws(ChatTemplateError) in try lookupPath(v, attribute, line: line) } }
            return .string(items.map(\.pythonString).joined(separator: separator))
        case "items":
            if value.isUndefined { return .array([]) }
            guard case .object(let object) = value else { throw fail("can only get item pairs from a mapping, not \(value.typeName)") }
            return .array(object.members.map { .tuple([.string($0.key), $0.value]) })
        case "dictsort":
            guard case .object(let object) = value else { throw fail("expected a mapping, got \(value.typeName)") }
            let byValue = args.value(1, "by")?.pythonString == "value"
            let caseSensitive = flag(0, "case_sensitive")
            var pairs = object.members.map { (key: JinjaValue.string($0.key), value: $0.value) }
            try sortValues(&pairs, key: { byValue ? $0.value : $0.key }, caseSensitive: caseSensitive, line: line)
            if flag(2, "reverse") { pairs.reverse() }
            return .array(pairs.map { .tuple([$0.key, $0.value]) })
        case "sort":
            var items = try iterate(value, line: line)
            let attribute = args.value(2, "attribute")
            var keyed: [(key: JinjaValue, value: JinjaValue)] = []
            for item in items { keyed.append((try attribute.map { a throws(ChatTemplateError) in try lookupPath(item, a, line: line) } ?? item, item)) }
            try sortValues(&keyed, key: { $0.key }, caseSensitive: flag(1, "case_sensitive"), line: line)
            items = keyed.map(\.value)
            return .array(flag(0, "reverse") ? items.reversed() : items)
        case "unique":
            var seen: [JinjaValue] = []
            var result: [JinjaValue] = []
            for item in try iterate(value, line: line) {
                var key = try args.value(1, "attribute").map { a throws(ChatTemplateError) in try lookupPath(item, a, line: line) } ?? item
                if !flag(0, "case_sensitive"), case .string(let s) = key { key = .string(s.lowercased()) }
                if !seen.contains(where: { $0.pythonEquals(key) }) {
                    seen.append(key)
                    result.append(item)
                }
            }
            return .array(result)
        case "min", "max":
            var keyed: [(key: JinjaValue, value: JinjaValue)] = []
            for item in try iterate(value, line: line) {
                keyed.append((try args.value(1, "attribute").map { a throws(ChatTemplateError) in try lookupPath(item, a, line: line) } ?? item, item))
            }
            try sortValues(&keyed, key: { $0.key }, caseSensitive: flag(0, "case_sensitive"), line: line)
            return (name == "min" ? keyed.first : keyed.last)?.value ?? .undefined("no \(name) item, sequence was empty")
        case "sum":
            var total = args.value(1, "start") ?? .int(0)
            for item in try iterate(value, line: line) {
                let term = try args.value(0, "attribute").map { a throws(ChatTemplateError) in try lookupPath(item, a, line: line) } ?? item
                total = try binary(.add, total, term, line: line)
            }
            return total
        case "abs":
            switch value {
            case .int(let i): return .int(abs(i))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw fail("bad operand type for abs(): '\(value.typeName)'")
            }
        case "round":
            guard let number = value.number else { throw fail("expected a number, got \(value.typeName)") }
            let precision = args.value(0, "precision")?.integer ?? 0
            let method = args.value(1, "method")?.pythonString ?? "common"
            let rule: FloatingPointRoundingRule = switch method {
            case "ceil": .up
            case "floor": .down
            default: .toNearestOrEven
            }
            var scale = 1.0
            for _ in 0..<abs(precision) { scale *= 10 }
            return .double(precision >= 0 ? (number * scale).rounded(rule) / scale : (number / scale).rounded(rule) * scale)
        case "int":
            let fallback = args.value(0, "default") ?? .int(0)
            switch value {
            case .int, .bool: return .int(value.integer!)
            case .double(let d): return d.isFinite ? .int(Int(d)) : fallback
            case .string(let s):
                let text = s.trimmingPythonWhitespace().replacing("_", with: "")
                if let i = Int(text) { return .int(i) }
                if let d = Double(text), d.isFinite { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = args.value(0, "default") ?? .double(0)
            if case .string(let s) = value { return Double(s.trimmingPythonWhitespace()).map(JinjaValue.double) ?? fallback }
            return value.number.map(JinjaValue.double) ?? fallback
        case "replace":
            guard let old = args.value(0, "old")?.pythonString, let new = args.value(1, "new")?.pythonString else { throw fail("expected old and new") }
            return .string(pythonReplace(value.pythonString, old, new, count: args.value(2, "count")?.integer))
        case "indent":
            return .string(indent(value.pythonString, args))
        case "attr":
            return try attribute(of: value, args.value(0, "name")?.pythonString ?? "", line: line)
        case "map":
            return .array(try mapItems(value, args, line: line))
        case "select", "reject", "selectattr", "rejectattr":
            return .array(try selectItems(value, args, byAttribute: name.hasSuffix("attr"), keep: name.hasPrefix("select"), line: line))
        case "wordcount":
            return .int(value.pythonString.split(whereSeparator: { $0.isWhitespace }).count)
        default:
            throw .runtime(line: line, message: "unknown filter '\(name)'")
        }
    }

    /// Python `len()`.
    func length(of value: JinjaValue, line: Int) throws(ChatTemplateError) -> Int {
        switch value {
        case .undefined: return 0
        case .string(let s): return s.unicodeScalars.count
        case .array(let a), .tuple(let a): return a.count
        case .object(let o): return o.count
        default: throw .runtime(line: line, message: "TypeError: object of type '\(value.typeName)' has no len()")
        }
    }

    /// transformers' `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
    func toJSON(_ value: JinjaValue, _ args: CallArguments, line: Int) throws(ChatTemplateError) -> String {
        let json: JSONValue
        switch value.toJSON() {
        case .success(let converted): json = converted
        case .failure(let error): throw .runtime(line: line, message: "TypeError: Object of type \(error.typeName) is not JSON serializable")
        }
        let indent = args.value(0, "indent")?.integer
        var itemSeparator: String?
        var keySeparator = ": "
        if let separators = args.value(3, "separators").map(sequenceElements), separators.count == 2 {
            itemSeparator = separators[0].pythonString
            keySeparator = separators[1].pythonString
        }
        return json.serialized(indent: indent, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: args.value(4, "sort_keys")?.isTruthy ?? false)
    }

    /// jinja2's attribute paths (`attribute="a.b"` or an integer index).
    func lookupPath(_ value: JinjaValue, _ path: JinjaValue, line: Int) throws(ChatTemplateError) -> JinjaValue {
        guard case .string(let dotted) = path else { return try item(of: value, path, line: line) }
        var result = value
        for part in dotted.split(separator: ".", omittingEmptySubsequences: false) {
            result = try item(of: result, Int(part).map(JinjaValue.int) ?? .string(String(part)), line: line)
        }
        return result
    }

    /// Stable sort by key, strings case-insensitively unless asked (jinja2's `ignore_case`).
    func sortValues<T>(_ items: inout [T], key: (T) -> JinjaValue, caseSensitive: Bool, line: Int) throws(ChatTemplateError) {
        func normalized(_ v: JinjaValue) -> JinjaValue {
            if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
            return v
        }
        var failure: ChatTemplateError?
        // Sorting indices, ties broken by position, keeps equal keys in order as Python's stable sort does.
        let order = items.indices.sorted { a, b in
            guard let c = normalized(key(items[a])).pythonCompare(normalized(key(items[b]))) else {
                failure = .runtime(line: line, message: "TypeError: '<' not supported between instances of '\(key(items[a]).typeName)' and '\(key(items[b]).typeName)'")
                return a < b
            }
            return c < 0 || (c == 0 && a < b)
        }
        if let failure { throw failure }
        items = order.map { items[$0] }
    }

    func indent(_ text: String, _ args: CallArguments) -> String {
        let width = args.value(0, "width") ?? .int(4)
        let indentation: String
        if case .string(let s) = width { indentation = s } else { indentation = String(repeating: " ", count: width.integer ?? 4) }
        let lines = pythonSplitLines(text + "\n", keepEnds: false)
        var result: String
        if args.value(2, "blank")?.isTruthy ?? false {
            result = lines.joined(separator: "\n" + indentation)
        } else {
            result = lines.first ?? ""
            if lines.count > 1 {
                result += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
            }
        }
        return (args.value(1, "first")?.isTruthy ?? false) ? indentation + result : result
    }

    /// `map(attribute=...)` or `map('filter', args...)`.
    mutating func mapItems(_ value: JinjaValue, _ args: CallArguments, line: Int) throws(ChatTemplateError) -> [JinjaValue] {
        let items = try iterate(value, line: line)
        if let attribute = args.keyword.last(where: { $0.name == "attribute" })?.value {
            let fallback = args.keyword.last(where: { $0.name == "default" })?.value
            return try items.map { item throws(ChatTemplateError) in
                let found = try lookupPath(item, attribute, line: line)
                return found.isUndefined ? (fallback ?? found) : found
            }
        }
        guard let filterName = args.positional.first?.pythonString else { return items }
        let rest = CallArguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
        var result: [JinjaValue] = []
        for item in items { result.append(try filter(filterName, item, rest, line: line)) }
        return result
    }

    /// select / reject (by a test on the item) and selectattr / rejectattr (on an attribute).
    mutating func selectItems(_ value: JinjaValue, _ args: CallArguments, byAttribute: Bool, keep: Bool, line: Int) throws(ChatTemplateError) -> [JinjaValue] {
        var positional = args.positional
        let attribute = byAttribute ? positional.first : nil
        if byAttribute, !positional.isEmpty { positional.removeFirst() }
        let testName = positional.first?.pythonString
        let testArguments = CallArguments(positional: Array(positional.dropFirst()), keyword: args.keyword)
        var result: [JinjaValue] = []
        for item in try iterate(value, line: line) {
            let subject = try attribute.map { a throws(ChatTemplateError) in try lookupPath(item, a, line: line) } ?? item
            let passed = try testName.map { t throws(ChatTemplateError) in try applyTest(t, to: subject, testArguments, line: line) } ?? subject.isTruthy
            if passed == keep { result.append(item) }
        }
        return result
    }
}

/// jinja2's `title`: capitalizes each run after a space, dash or opening bracket.
func jinjaTitle(_ s: String) -> String {
    var result = ""
    var atWordStart = true
    for character in s {
        result += atWordStart ? character.uppercased() : character.lowercased()
        atWordStart = character.isWhitespace || "-({[<".contains(character)
    }
    return result
}

func htmlEscape(_ s: String) -> String {
    var result = ""
    for character in s {
        switch character {
        case "&": result += "&amp;"
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "\"": result += "&#34;"
        case "'": result += "&#39;"
        default: result.append(character)
        }
    }
    return result
}

/// The elements of a list or tuple (empty for anything else).
func sequenceElements(_ value: JinjaValue) -> [JinjaValue] {
    switch value {
    case .array(let elements), .tuple(let elements): elements
    default: []
    }
}
