// jinja2's tests (`x is defined`, `x is divisibleby 3`, …), as in jinja2/tests.py.

extension Interpreter {
    mutating func applyTest(_ name: String, to value: JinjaValue, _ args: CallArguments, line: Int) throws(ChatTemplateError) -> Bool {
        func argument() throws(ChatTemplateError) -> JinjaValue {
            guard let first = args.positional.first ?? args.keyword.first?.value else {
                throw .runtime(line: line, message: "test '\(name)' needs an argument")
            }
            return first
        }
        func isInteger(_ v: JinjaValue) -> Bool { if case .int = v { true } else { false } }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value == .none
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": return value == .bool(true)
        case "false": return value == .bool(false)
        case "string": if case .string = value { return true } else { return false }
        case "number": return value.number != nil
        case "integer": return isInteger(value)
        case "float": if case .double = value { return true } else { return false }
        case "mapping": if case .object = value { return true } else { return false }
        case "iterable":
            switch value {
            case .undefined, .string, .array, .tuple, .object: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .undefined, .string, .array, .tuple, .object: return true
            default: return false
            }
        case "callable": if case .callable = value { return true } else { return false }
        case "lower": if case .string(let s) = value { return s == s.lowercased() } else { return false }
        case "upper": if case .string(let s) = value { return s == s.uppercased() } else { return false }
        case "even", "odd":
            guard let i = value.integer else { throw .runtime(line: line, message: "TypeError: test '\(name)' needs an integer, got \(value.typeName)") }
            return (i % 2 == 0) == (name == "even")
        case "divisibleby":
            guard let i = value.integer, let d = try argument().integer, d != 0 else {
                throw .runtime(line: line, message: "test 'divisibleby' needs non-zero integers")
            }
            return i % d == 0
        case "eq", "equalto", "==": return value.pythonEquals(try argument())
        case "ne", "!=": return !value.pythonEquals(try argument())
        case "lt", "lessthan", "<": return try compare(.less, value, try argument(), line: line)
        case "le", "<=": return try compare(.lessEqual, value, try argument(), line: line)
        case "gt", "greaterthan", ">": return try compare(.greater, value, try argument(), line: line)
        case "ge", ">=": return try compare(.greaterEqual, value, try argument(), line: line)
        case "in": return try contains(try argument(), value, line: line)
        case "sameas":
            let other = try argument()
            switch (value, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case (.bool(let a), .bool(let b)): return a == b
            default: return value == other
            }
        case "escaped": return false
        case "filter": return Self.filterNames.contains(value.pythonString)
        case "test": return Self.testNames.contains(value.pythonString)
        default: throw .runtime(line: line, message: "unknown test '\(name)'")
        }
    }

    static let testNames: Set<String> = [
        "defined", "undefined", "none", "boolean", "true", "false", "string", "number", "integer", "float",
        "mapping", "iterable", "sequence", "callable", "lower", "upper", "even", "odd", "divisibleby", "eq",
        "equalto", "ne", "lt", "lessthan", "le", "gt", "greaterthan", "ge", "in", "sameas", "escaped", "filter", "test",
    ]

    static let filterNames: Set<String> = [
        "safe", "string", "trim", "upper", "lower", "capitalize", "title", "e", "escape", "length", "count",
        "default", "d", "tojson", "list", "first", "last", "reverse", "join", "items", "dictsort", "sort", "unique",
        "min", "max", "sum", "abs", "round", "int", "float", "replace", "indent", "attr", "map", "select", "reject",
        "selectattr", "rejectattr", "wordcount",
    ]
}
