// jinja2's built-in filters (`x | name(args)`) as chat templates use them, plus transformers'
// `tojson`, which does not escape HTML.

enum Filters {
    /// Every filter name; the parser rejects others, as jinja2 does when compiling.
    static let names: Set<String> = [
        "abs", "attr", "batch", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float",
        "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title",
        "tojson", "trim", "unique", "upper", "wordcount",
    ]
}

extension Interpreter {
    func applyFilter(_ name: String, to value: JinjaValue, _ arguments: CallArguments) throws(ChatTemplateError) -> JinjaValue {
        func bind(_ parameters: [String]) throws(ChatTemplateError) -> [JinjaValue?] { try arguments.bind(parameters, to: name) }
        switch name {
        case "trim":
            let chars = try bind(["chars"])[0]
            return .string(pythonStrip(string(of: value), chars: chars.flatMap { if case .string(let s) = $0 { s } else { nil } }))
        case "upper": return .string(string(of: value).uppercased())
        case "lower": return .string(string(of: value).lowercased())
        case "capitalize": return .string(pythonCapitalize(string(of: value)))
        case "title": return .string(jinjaTitle(string(of: value)))
        case "string": return .string(string(of: value))
        case "safe": return .string(string(of: value))
        case "e", "escape": return .string(htmlEscaped(string(of: value)))
        case "length", "count": return .int(try length(of: value))
        case "wordcount":
            let words = string(of: value).split { !($0.isLetter || $0.isNumber || $0 == "_") }
            return .int(words.count)
        case "tojson": return try toJSON(value, try bind(["ensure_ascii", "indent", "separators", "sort_keys"]))
        case "default", "d":
            let bound = try bind(["default_value", "boolean"])
            let useDefault = value.isUndefined || (bound[1]?.isTruthy == true && !value.isTruthy)
            return useDefault ? bound[0] ?? .string("") : value
        case "join":
            let bound = try bind(["d", "attribute"])
            var items = try elements(of: value)
            if let attribute = bound[1] { items = try items.map { (item) throws(ChatTemplateError) in try lookup(attribute, in: item) } }
            return .string(items.map { string(of: $0) }.joined(separator: bound[0].map { string(of: $0) } ?? ""))
        case "first", "last":
            _ = try bind([])
            let items = try elements(of: value)
            guard let item = name == "first" ? items.first : items.last else { return .undefined("No \(name) item, sequence was empty.") }
            return item
        case "list": return .list(try elements(of: value))
        case "items":
            if value.isUndefined { return .list([]) }
            guard case .dict(let dict) = value else { throw failure("Can only get item pairs from a mapping.") }
            return .list(dict.members.map { .tuple([$0.key, $0.value]) })
        case "map": return .list(try mapFilter(value, arguments))
        case "select", "reject":
            guard !arguments.keyword.contains(where: { _ in true }) else { throw failure("\(name)() takes no keyword arguments") }
            let test = arguments.positional.first
            let testArguments = CallArguments(positional: Array(arguments.positional.dropFirst()))
            var kept: [JinjaValue] = []
            for item in try elements(of: value) where try passes(item, test: test, testArguments) == (name == "select") {
                kept.append(item)
            }
            return .list(kept)
        case "selectattr", "rejectattr":
            guard let attribute = arguments.positional.first else { throw failure("Missing parameter for attribute name") }
            let test = arguments.positional.dropFirst().first
            let testArguments = CallArguments(positional: Array(arguments.positional.dropFirst(2)))
            var kept: [JinjaValue] = []
            for item in try elements(of: value) where try passes(try lookup(attribute, in: item), test: test, testArguments) == (name == "selectattr") {
                kept.append(item)
            }
            return .list(kept)
        case "int":
            let bound = try bind(["default", "base"])
            return try toInt(value, defaultValue: bound[0] ?? .int(0), base: bound[1]?.integer ?? 10)
        case "float":
            let fallback = try bind(["default"])[0] ?? .double(0)
            switch value {
            case .int, .bool, .double: return .double(value.number!)
            case .string(let s): return Double(pythonStrip(s, chars: nil)).map(JinjaValue.double) ?? fallback
            default: return fallback
            }
        case "abs":
            switch value {
            case .int, .bool: return try unaryOperation(value.integer! < 0 ? "-" : "+", value)
            case .double(let d): return .double(abs(d))
            default: throw failure("bad operand type for abs(): '\(value.typeName)'")
            }
        case "round": return try roundFilter(value, try bind(["precision", "method"]))
        case "replace":
            let bound = try bind(["old", "new", "count"])
            guard let old = bound[0], let new = bound[1] else { throw failure("replace() missing required arguments") }
            return .string(pythonReplace(string(of: value), string(of: old), string(of: new), count: bound[2]?.integer ?? -1))
        case "indent": return .string(try indent(string(of: value), try bind(["width", "first", "blank"])))
        case "unique": return .list(try unique(value, try bind(["case_sensitive", "attribute"])))
        case "sort": return .list(try sortFilter(value, try bind(["reverse", "case_sensitive", "attribute"])))
        case "dictsort": return .list(try dictsort(value, try bind(["case_sensitive", "by", "reverse"])))
        case "min", "max": return try extreme(value, isMax: name == "max", try bind(["case_sensitive", "attribute"]))
        case "sum":
            let bound = try bind(["attribute", "start"])
            var total = bound[1] ?? .int(0)
            if case .string = total { throw failure("sum() can't sum strings [use ''.join(seq) instead]") }
            for item in try elements(of: value) {
                total = try binaryOperation("+", total, try bound[0].map { (a) throws(ChatTemplateError) in try lookup(a, in: item) } ?? item)
            }
            return total
        case "reverse":
            if case .string(let s) = value { return .string(String(String.UnicodeScalarView(s.unicodeScalars.reversed()))) }
            return .list(try elements(of: value).reversed())
        case "batch":
            let bound = try bind(["linecount", "fill_with"])
            guard let size = bound[0]?.integer, size > 0 else { throw failure("batch() needs a positive line count") }
            var batches: [JinjaValue] = []
            var current: [JinjaValue] = []
            for item in try elements(of: value) {
                current.append(item)
                if current.count == size { batches.append(.list(current)); current = [] }
            }
            if !current.isEmpty {
                if let fill = bound[1] { current += Array(repeating: fill, count: size - current.count) }
                batches.append(.list(current))
            }
            return .list(batches)
        case "attr":
            guard let attribute = try bind(["name"])[0] else { throw failure("attr() missing the attribute name") }
            // Attributes only: unlike `.`, `attr` never falls back to a dict's items.
            let attributeName = string(of: attribute)
            if case .dict = value, !PythonAttributes.dictMethods.contains(attributeName) {
                return .undefined("'dict object' has no attribute '\(attributeName)'")
            }
            return try self.attribute(attributeName, of: value)
        case "format":
            let values: JinjaValue = arguments.keyword.isEmpty
                ? .tuple(arguments.positional)
                : .dict(JinjaDict(arguments.keyword.map { (.string($0.name), $0.value) }))
            return .string(try percentFormat(string(of: value), values))
        default:
            throw failure("unknown filter '\(name)'")
        }
    }

    /// Python `len()`; undefined has length 0.
    func length(of value: JinjaValue) throws(ChatTemplateError) -> Int {
        switch value {
        case .string(let s): return s.unicodeScalars.count
        case .list(let items), .tuple(let items): return items.count
        case .dict(let dict): return dict.count
        case .undefined: return 0
        default: throw failure("object of type '\(value.typeName)' has no len()")
        }
    }

    /// An attribute path like `"user.name"` or `0` (jinja2's `make_attrgetter`).
    func lookup(_ attribute: JinjaValue, in item: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        guard case .string(let path) = attribute else { return try self.item(attribute, of: item) }
        var value = item
        for part in path.split(separator: ".", omittingEmptySubsequences: false) {
            value = try self.item(Int(part).map(JinjaValue.int) ?? .string(String(part)), of: value)
        }
        return value
    }

    /// Whether `value` passes a test given by name (truthiness when there is none).
    private func passes(_ value: JinjaValue, test: JinjaValue?, _ arguments: CallArguments) throws(ChatTemplateError) -> Bool {
        guard let test else { return value.isTruthy }
        guard case .string(let name) = test, Tests.names.contains(name) else { throw failure("No test named \(test.pythonRepr).") }
        return try applyTest(name, to: value, arguments)
    }

    private func mapFilter(_ value: JinjaValue, _ arguments: CallArguments) throws(ChatTemplateError) -> [JinjaValue] {
        let items = try elements(of: value)
        if let attribute = arguments.keyword.first(where: { $0.name == "attribute" })?.value {
            let fallback = arguments.keyword.first { $0.name == "default" }?.value
            return try items.map { (item) throws(ChatTemplateError) in
                let result = try lookup(attribute, in: item)
                return result.isUndefined ? fallback ?? result : result
            }
        }
        guard case .string(let filter)? = arguments.positional.first, Filters.names.contains(filter) else {
            throw failure("map() needs a filter name or attribute=")
        }
        let rest = CallArguments(positional: Array(arguments.positional.dropFirst()), keyword: arguments.keyword)
        return try items.map { (item) throws(ChatTemplateError) in try applyFilter(filter, to: item, rest) }
    }

    private func toJSON(_ value: JinjaValue, _ bound: [JinjaValue?]) throws(ChatTemplateError) -> JinjaValue {
        guard let json = try jsonValue(value) else { throw failure("Object of type \(value.typeName) is not JSON serializable") }
        var indent: Int?
        switch bound[1] {
        case nil, .none?: indent = nil
        case let width?:
            guard let w = width.integer else { throw failure("tojson indent must be an integer") }
            indent = w
        }
        var itemSeparator: String?
        var keySeparator = ": "
        if case let separators? = bound[2], separators != .none {
            let parts = try elements(of: separators)
            guard parts.count == 2, case .string(let item) = parts[0], case .string(let key) = parts[1] else {
                throw failure("tojson separators must be a pair of strings")
            }
            itemSeparator = item
            keySeparator = key
        }
        var text = json.serialized(indent: indent, itemSeparator: itemSeparator, keySeparator: keySeparator, sortKeys: bound[3]?.isTruthy ?? false)
        if bound[0]?.isTruthy == true { text = asciiEscaped(text) }
        return .string(text)
    }

    /// The JSON `json.dumps` writes for a value: tuples as arrays, non-string keys as strings.
    private func jsonValue(_ value: JinjaValue) throws(ChatTemplateError) -> JSONValue? {
        switch value {
        case .list(let items), .tuple(let items):
            var array: [JSONValue] = []
            for item in items {
                guard let json = try jsonValue(item) else { return nil }
                array.append(json)
            }
            return .array(array)
        case .dict(let dict):
            var object = JSONObject()
            for (key, member) in dict.members {
                guard let json = try jsonValue(member) else { return nil }
                switch key {
                case .string(let s): object[s] = json
                case .int, .double, .none: object[key.pythonRepr == "None" ? "null" : key.pythonRepr] = json
                case .bool(let b): object[b ? "true" : "false"] = json
                default: throw failure("keys must be str, int, float, bool or None, not \(key.typeName)")
                }
            }
            return .object(object)
        default:
            return value.json
        }
    }
}

/// jinja2's `title`: words begin after whitespace, `-` and opening brackets.
func jinjaTitle(_ s: String) -> String {
    var out = ""
    var atWordStart = true
    for character in s {
        let isBoundary = character.isWhitespace || "-([{<".contains(character)
        out += isBoundary ? String(character) : atWordStart ? character.uppercased() : character.lowercased()
        atWordStart = isBoundary
    }
    return out
}

/// markupsafe's escaping of `& < > " '`.
func htmlEscaped(_ s: String) -> String {
    var out = ""
    for character in s {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&#34;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}

/// `ensure_ascii=True`: non-ASCII as `\uXXXX` (surrogate pairs above the BMP). JSON text has
/// such characters only inside strings, so escaping the whole text is safe.
func asciiEscaped(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if scalar.isASCII {
            out.unicodeScalars.append(scalar)
        } else {
            for unit in String(scalar).utf16 { out += "\\u" + hexDigits(UInt32(unit), width: 4) }
        }
    }
    return out
}
