// jinja2's tests (`x is name(args)`), with Python's type distinctions (`true is number`
// holds, `true is integer` does not).

enum Tests {
    /// Every test name; the parser rejects others, as jinja2 does when compiling.
    static let names: Set<String> = [
        "defined", "undefined", "none", "boolean", "true", "false", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "even", "odd", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt",
        "lessthan", "<", "le", "<=", "gt", "greaterthan", ">", "ge", ">=", "in", "sameas", "lower", "upper", "escaped",
        "filter", "test",
    ]
}

extension Interpreter {
    func applyTest(_ name: String, to value: JinjaValue, _ arguments: CallArguments) throws(ChatTemplateError) -> Bool {
        /// The one argument a comparison test takes.
        func operand() throws(ChatTemplateError) -> JinjaValue {
            guard let other = try arguments.bind(["other"], to: name)[0] else { throw failure("test '\(name)' needs an argument") }
            return other
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none": return value == .none
        case "boolean": if case .bool = value { return true } else { return false }
        case "true": return value == .bool(true)
        case "false": return value == .bool(false)
        case "integer": if case .int = value { return true } else { return false }
        case "float": if case .double = value { return true } else { return false }
        case "number": return value.number != nil
        case "string": if case .string = value { return true } else { return false }
        case "mapping": if case .dict = value { return true } else { return false }
        case "iterable", "sequence":
            switch value {
            case .list, .tuple, .dict, .string, .undefined: return true
            default: return false
            }
        case "callable": if case .callable = value { return true } else { return false }
        case "even", "odd":
            guard value.number != nil else { throw failure("unsupported operand type(s) for %: '\(value.typeName)' and 'int'") }
            let remainder = try binaryOperation("%", value, .int(2))
            return pythonEquals(remainder, .int(0)) == (name == "even")
        case "divisibleby":
            return pythonEquals(try binaryOperation("%", value, try operand()), .int(0))
        case "eq", "equalto", "==": return pythonEquals(value, try operand())
        case "ne", "!=": return !pythonEquals(value, try operand())
        case "lt", "lessthan", "<": return try compare("<", value, try operand())
        case "le", "<=": return try compare("<=", value, try operand())
        case "gt", "greaterthan", ">": return try compare(">", value, try operand())
        case "ge", ">=": return try compare(">=", value, try operand())
        case "in": return try contains(try operand(), value)
        case "sameas": return value == (try operand())
        case "lower":
            let s = string(of: value)
            return s.contains { $0.isCased } && !s.contains { $0.isUppercase }
        case "upper":
            let s = string(of: value)
            return s.contains { $0.isCased } && !s.contains { $0.isLowercase }
        case "escaped": return false
        case "filter": return Filters.names.contains(string(of: try operand()))
        case "test": return Tests.names.contains(string(of: try operand()))
        default: throw failure("unknown test '\(name)'")
        }
    }
}
