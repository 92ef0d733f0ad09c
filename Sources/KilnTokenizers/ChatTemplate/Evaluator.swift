// Evaluates expressions, including the sandboxed attribute and item lookups of jinja2
// (`a.b` tries the attribute then the item, `a['b']` the reverse) and calls.

/// Evaluated call arguments, bound to parameter names the way Python binds them.
struct CallArguments {
    var positional: [JinjaValue] = []
    var keyword: [(name: String, value: JinjaValue)] = []

    /// The values for `parameters` (nil where not given), refusing extra or unknown ones.
    func bind(_ parameters: [String], to function: String) throws(ChatTemplateError) -> [JinjaValue?] {
        guard positional.count <= parameters.count else {
            throw failure("\(function)() takes at most \(parameters.count) arguments (\(positional.count) given)")
        }
        var bound: [JinjaValue?] = positional + Array(repeating: nil, count: parameters.count - positional.count)
        for (name, value) in keyword {
            guard let index = parameters.firstIndex(of: name) else { throw failure("\(function)() got an unexpected keyword argument '\(name)'") }
            guard bound[index] == nil else { throw failure("\(function)() got multiple values for argument '\(name)'") }
            bound[index] = value
        }
        return bound
    }
}

/// Attribute names that are methods of Python's str, dict and list types, and which of them
/// the immutable sandbox forbids because they mutate.
enum PythonAttributes {
    static let stringMethods: Set<String> = [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
        "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
        "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
        "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
    ]
    static let dictMethods: Set<String> = ["items", "keys", "values", "get", "copy", "fromkeys"]
    static let mutatingDictMethods: Set<String> = ["pop", "popitem", "setdefault", "update", "clear"]
    static let listMethods: Set<String> = ["index", "count", "copy"]
    static let mutatingListMethods: Set<String> = ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"]
}

extension Interpreter {
    /// The value of `expression`; errors raised without a line get this expression's line.
    func evaluate(_ expression: Expression, in scope: Scope) throws(ChatTemplateError) -> JinjaValue {
        try located(expression.line) { () throws(ChatTemplateError) in try evaluateUnlocated(expression, in: scope) }
    }

    private func evaluateUnlocated(_ expression: Expression, in scope: Scope) throws(ChatTemplateError) -> JinjaValue {
        switch expression.kind {
        case .literal(let value):
            return value
        case .name(let name):
            return scope.lookup(name) ?? .undefined("'\(name)' is undefined")
        case .list(let elements):
            var values: [JinjaValue] = []
            for element in elements { values.append(try evaluate(element, in: scope)) }
            return .list(values)
        case .tuple(let elements):
            var values: [JinjaValue] = []
            for element in elements { values.append(try evaluate(element, in: scope)) }
            return .tuple(values)
        case .dict(let members):
            var dict = JinjaDict()
            for member in members {
                let key = try evaluate(member.key, in: scope)
                if case .list = key { throw failure("unhashable type: 'list'") }
                if case .dict = key { throw failure("unhashable type: 'dict'") }
                dict[key] = try evaluate(member.value, in: scope)
            }
            return .dict(dict)
        case .unary(let op, let operand):
            return try unaryOperation(op, try evaluate(operand, in: scope))
        case .binary(let op, let left, let right):
            return try binaryOperation(op, try evaluate(left, in: scope), try evaluate(right, in: scope))
        case .and(let left, let right):
            let value = try evaluate(left, in: scope)
            return value.isTruthy ? try evaluate(right, in: scope) : value
        case .or(let left, let right):
            let value = try evaluate(left, in: scope)
            return value.isTruthy ? value : try evaluate(right, in: scope)
        case .not(let operand):
            return .bool(!(try evaluate(operand, in: scope).isTruthy))
        case .compare(let first, let operations):
            var left = try evaluate(first, in: scope)
            for operation in operations {
                let right = try evaluate(operation.operand, in: scope)
                guard try compare(operation.op, left, right) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let condition, let then, let otherwise):
            if try evaluate(condition, in: scope).isTruthy { return try evaluate(then, in: scope) }
            if let otherwise { return try evaluate(otherwise, in: scope) }
            return .undefined("the inline if-expression on line \(expression.line) evaluated to false and no else section was defined.")
        case .attribute(let object, let name):
            return try attribute(name, of: try evaluate(object, in: scope))
        case .item(let object, let key):
            return try item(try evaluate(key, in: scope), of: try evaluate(object, in: scope))
        case .slice(let object, let start, let stop, let step):
            let value = try evaluate(object, in: scope)
            func bound(_ e: Expression?) throws(ChatTemplateError) -> Int? {
                guard let e else { return nil }
                let v = try evaluate(e, in: scope)
                if case .none = v { return nil }
                guard let i = v.integer else { throw failure("slice indices must be integers or None") }
                return i
            }
            return try slice(value, start: try bound(start), stop: try bound(stop), step: try bound(step))
        case .call(let callee, let arguments):
            let function = try evaluate(callee, in: scope)
            return try call(function, try evaluateArguments(arguments, in: scope))
        case .filter(let subject, let filter):
            let value = try evaluate(subject, in: scope)
            return try applyFilter(filter.name, to: value, try evaluateArguments(filter.arguments, in: scope))
        case .test(let subject, let name, let arguments, let negated):
            let value = try evaluate(subject, in: scope)
            let result = try applyTest(name, to: value, try evaluateArguments(arguments, in: scope))
            return .bool(result != negated)
        }
    }

    func evaluateArguments(_ arguments: Arguments, in scope: Scope) throws(ChatTemplateError) -> CallArguments {
        var result = CallArguments()
        for expression in arguments.positional { result.positional.append(try evaluate(expression, in: scope)) }
        for (name, expression) in arguments.keyword { result.keyword.append((name, try evaluate(expression, in: scope))) }
        return result
    }

    /// `object.name`: the attribute (a method, a namespace member) or else the item.
    func attribute(_ name: String, of object: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        switch object {
        case .undefined(let message):
            throw failure(message)
        case .dict(let dict):
            if PythonAttributes.dictMethods.contains(name) { return method(name, of: object) }
            if PythonAttributes.mutatingDictMethods.contains(name) { return unsafe(name, of: object) }
            return dict[name] ?? missing(name, of: object)
        case .list, .tuple:
            if PythonAttributes.listMethods.contains(name) { return method(name, of: object) }
            if PythonAttributes.mutatingListMethods.contains(name), case .list = object { return unsafe(name, of: object) }
            return missing(name, of: object)
        case .string:
            return PythonAttributes.stringMethods.contains(name) ? method(name, of: object) : missing(name, of: object)
        case .namespace(let namespace):
            return namespaces[namespace.id][name] ?? missing(name, of: object)
        case .none, .bool, .int, .double, .callable:
            return missing(name, of: object)
        }
    }

    /// `object[key]`: the item, or else (for a string key) the attribute.
    func item(_ key: JinjaValue, of object: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        switch object {
        case .undefined(let message):
            throw failure(message)
        case .list(let items), .tuple(let items):
            if let index = key.integer {
                let position = index < 0 ? index + items.count : index
                guard items.indices.contains(position) else { return .undefined("'\(object.typeName) object' has no element \(index)") }
                return items[position]
            }
        case .string(let s):
            if let index = key.integer {
                let scalars = Array(s.unicodeScalars)
                let position = index < 0 ? index + scalars.count : index
                guard scalars.indices.contains(position) else { return .undefined("'str object' has no element \(index)") }
                return .string(String(scalars[position]))
            }
        case .dict(let dict):
            if let value = dict[key] { return value }
        default:
            break
        }
        if case .string(let name) = key { return try attribute(name, of: object) }
        return .undefined("'\(object.typeName) object' has no element \(key.pythonRepr)")
    }

    private func method(_ name: String, of receiver: JinjaValue) -> JinjaValue {
        .callable(JinjaCallable(kind: .method(receiver: receiver, name: name)))
    }

    private func missing(_ name: String, of object: JinjaValue) -> JinjaValue {
        if case .none = object { return .undefined("'None' has no attribute '\(name)'") }
        return .undefined("'\(object.typeName) object' has no attribute '\(name)'")
    }

    /// The immutable sandbox's answer to a mutating method: undefined, failing when called.
    private func unsafe(_ name: String, of object: JinjaValue) -> JinjaValue {
        .undefined("access to attribute '\(name)' of '\(object.typeName)' object is unsafe.")
    }

    /// Python slicing of lists, tuples and strings.
    func slice(_ value: JinjaValue, start: Int?, stop: Int?, step: Int?) throws(ChatTemplateError) -> JinjaValue {
        let step = step ?? 1
        guard step != 0 else { throw failure("slice step cannot be zero") }
        func indices(_ count: Int) -> [Int] {
            func adjust(_ index: Int?, _ defaultValue: Int) -> Int {
                guard var index else { return defaultValue }
                if index < 0 {
                    index += count
                    if index < 0 { index = step < 0 ? -1 : 0 }
                } else if index >= count {
                    index = step < 0 ? count - 1 : count
                }
                return index
            }
            let from = adjust(start, step < 0 ? count - 1 : 0)
            let to = adjust(stop, step < 0 ? -1 : count)
            return Array(stride(from: from, to: to, by: step))
        }
        switch value {
        case .list(let items): return .list(indices(items.count).map { items[$0] })
        case .tuple(let items): return .tuple(indices(items.count).map { items[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            var out = String.UnicodeScalarView()
            for i in indices(scalars.count) { out.append(scalars[i]) }
            return .string(String(out))
        case .undefined(let message): throw failure(message)
        default: throw failure("'\(value.typeName)' object is not subscriptable")
        }
    }

    func call(_ function: JinjaValue, _ arguments: CallArguments) throws(ChatTemplateError) -> JinjaValue {
        guard case .callable(let callable) = function else {
            if case .undefined(let message) = function { throw failure(message) }
            throw failure("'\(function.typeName)' object is not callable")
        }
        switch callable.kind {
        case .global(let name): return try callGlobal(name, arguments)
        case .macro(let id, _): return try callMacro(id, arguments)
        case .method(let receiver, let name): return try callMethod(name, of: receiver, arguments)
        case .cycle(let index0):
            guard !arguments.positional.isEmpty else { throw failure("no items for cycling given") }
            return arguments.positional[index0 % arguments.positional.count]
        }
    }

    private func callMacro(_ id: Int, _ arguments: CallArguments) throws(ChatTemplateError) -> JinjaValue {
        let (macro, definitionScope) = macros[id]
        guard macroDepth < Self.maximumMacroDepth else { throw failure("maximum recursion depth exceeded in macro '\(macro.name)'") }
        macroDepth += 1
        defer { macroDepth -= 1 }
        let scope = Scope(parent: definitionScope)
        var keyword = arguments.keyword
        for (index, parameter) in macro.parameters.enumerated() {
            let given = keyword.firstIndex { $0.name == parameter.name }
            if index < arguments.positional.count {
                guard given == nil else { throw failure("macro '\(macro.name)' got multiple values for argument '\(parameter.name)'") }
                scope.variables[parameter.name] = arguments.positional[index]
            } else if let given {
                scope.variables[parameter.name] = keyword.remove(at: given).value
            } else if let defaultValue = parameter.defaultValue {
                scope.variables[parameter.name] = try evaluate(defaultValue, in: scope)
            } else {
                scope.variables[parameter.name] = .undefined("parameter '\(parameter.name)' was not provided")
            }
        }
        let extra = Array(arguments.positional.dropFirst(macro.parameters.count))
        if macro.takesVarargs {
            scope.variables["varargs"] = .tuple(extra)
        } else if !extra.isEmpty {
            throw failure("macro '\(macro.name)' takes not more than \(macro.parameters.count) argument(s)")
        }
        if macro.takesKwargs {
            scope.variables["kwargs"] = .dict(JinjaDict(keyword.map { (.string($0.name), $0.value) }))
        } else if let unexpected = keyword.first {
            throw failure("macro '\(macro.name)' takes no keyword argument '\(unexpected.name)'")
        }
        var out = ""
        _ = try execute(macro.body, in: scope, into: &out)
        return .string(out)
    }
}
