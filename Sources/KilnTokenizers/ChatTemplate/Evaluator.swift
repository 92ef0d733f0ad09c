// Evaluates expressions: names, literals, attribute and item access (jinja2's getattr /
// getitem fallbacks), slices, calls, filters, tests and the operators.

/// Evaluated arguments of a call, filter or test.
struct CallArguments {
    var positional: [JinjaValue] = []
    var keyword: [(name: String, value: JinjaValue)] = []

    /// The argument at `position` or named `name`, if given.
    func value(_ position: Int, _ name: String) -> JinjaValue? {
        if position < positional.count { return positional[position] }
        return keyword.last(where: { $0.name == name })?.value
    }
}

extension Interpreter {
    mutating func evaluate(_ expression: Expr) throws(ChatTemplateError) -> JinjaValue {
        let line = expression.line
        switch expression.kind {
        case .literal(let value):
            return value
        case .name(let name):
            if let value = lookup(name) { return value }
            if Self.globalFunctions.contains(name) { return .callable(JinjaCallable(kind: .global(name))) }
            return .undefined("'\(name)' is undefined")
        case .list(let elements), .tuple(let elements):
            var values: [JinjaValue] = []
            for element in elements { values.append(try evaluate(element)) }
            if case .tuple = expression.kind { return .tuple(values) }
            return .array(values)
        case .dict(let members):
            var object = JinjaObject()
            for member in members {
                let key = try evaluate(member.key)
                guard case .string(let name) = key else {
                    throw .runtime(line: line, message: "dict keys must be strings here, got \(key.typeName)")
                }
                object[name] = try evaluate(member.value)
            }
            return .object(object)
        case .attribute(let base, let name):
            return try attribute(of: try evaluate(base), name, line: line)
        case .item(let base, let key):
            return try item(of: try evaluate(base), try evaluate(key), line: line)
        case .slice(let base, let start, let stop, let step):
            let value = try evaluate(base)
            return try slice(value, start: try start.map { e throws(ChatTemplateError) in try evaluate(e) },
                             stop: try stop.map { e throws(ChatTemplateError) in try evaluate(e) },
                             step: try step.map { e throws(ChatTemplateError) in try evaluate(e) }, line: line)
        case .call(let callee, let arguments):
            let function = try evaluate(callee)
            return try call(function, try evaluateArguments(arguments), line: line)
        case .filter(let base, let filter):
            return try applyFilter(filter, to: try evaluate(base))
        case .test(let base, let name, let arguments, let negated):
            let result = try applyTest(name, to: try evaluate(base), try evaluateArguments(arguments), line: line)
            return .bool(result != negated)
        case .not(let operand):
            return .bool(!(try evaluate(operand).isTruthy))
        case .negate(let operand):
            return try negate(try evaluate(operand), line: line)
        case .plus(let operand):
            let value = try evaluate(operand)
            guard value.number != nil else { throw .runtime(line: line, message: "bad operand type for unary +: '\(value.typeName)'") }
            return value
        case .binary(let op, let lhs, let rhs):
            return try binary(op, try evaluate(lhs), try evaluate(rhs), line: line)
        case .and(let lhs, let rhs):
            let left = try evaluate(lhs)
            return left.isTruthy ? try evaluate(rhs) : left
        case .or(let lhs, let rhs):
            let left = try evaluate(lhs)
            return left.isTruthy ? left : try evaluate(rhs)
        case .compare(let first, let operations):
            var left = try evaluate(first)
            for operation in operations {
                let right = try evaluate(operation.rhs)
                guard try compare(operation.op, left, right, line: line) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let condition, let then, let otherwise):
            if try evaluate(condition).isTruthy { return try evaluate(then) }
            guard let otherwise else { return .undefined("the inline if-expression evaluated to false and no else section was defined") }
            return try evaluate(otherwise)
        }
    }

    mutating func evaluateArguments(_ arguments: Arguments) throws(ChatTemplateError) -> CallArguments {
        var result = CallArguments()
        for argument in arguments.positional { result.positional.append(try evaluate(argument)) }
        for argument in arguments.keyword { result.keyword.append((argument.name, try evaluate(argument.value))) }
        return result
    }

    /// `value.name`: jinja2 tries the Python attribute (methods; a namespace's attributes)
    /// before the dict key.
    func attribute(of value: JinjaValue, _ name: String, line: Int) throws(ChatTemplateError) -> JinjaValue {
        switch value {
        case .undefined(let message):
            throw .runtime(line: line, message: "UndefinedError: \(message)")
        case .namespace(let namespace):
            return namespace.attributes[name] ?? .undefined("'Namespace' has no attribute '\(name)'")
        case .object(let object):
            if Self.dictMethods.contains(name) { return .callable(JinjaCallable(kind: .method(receiver: value, name: name))) }
            return object[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .string where Self.stringMethods.contains(name), .array where Self.listMethods.contains(name),
             .tuple where name == "index" || name == "count":
            return .callable(JinjaCallable(kind: .method(receiver: value, name: name)))
        default:
            return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
        }
    }

    /// `value[key]`: jinja2 tries the item before the attribute.
    func item(of value: JinjaValue, _ key: JinjaValue, line: Int) throws(ChatTemplateError) -> JinjaValue {
        switch (value, key) {
        case (.undefined(let message), _):
            throw .runtime(line: line, message: "UndefinedError: \(message)")
        case (.object(let object), .string(let name)):
            if let member = object[name] { return member }
        case (.array(let elements), _), (.tuple(let elements), _):
            if let index = key.integer {
                let resolved = index < 0 ? index + elements.count : index
                if elements.indices.contains(resolved) { return elements[resolved] }
            }
        case (.string(let s), _):
            if let index = key.integer {
                let scalars = Array(s.unicodeScalars)
                let resolved = index < 0 ? index + scalars.count : index
                if scalars.indices.contains(resolved) { return .string(String(scalars[resolved])) }
            }
        default:
            break
        }
        if case .string(let name) = key { return try attribute(of: value, name, line: line) }
        return .undefined("'\(value.typeName) object' has no element \(key.pythonRepr)")
    }

    /// Python slicing of a list or string.
    func slice(_ value: JinjaValue, start: JinjaValue?, stop: JinjaValue?, step: JinjaValue?, line: Int) throws(ChatTemplateError) -> JinjaValue {
        func bound(_ v: JinjaValue?) throws(ChatTemplateError) -> Int? {
            guard let v, v != .none else { return nil }
            guard let i = v.integer else { throw .runtime(line: line, message: "slice indices must be integers or None") }
            return i
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw .runtime(line: line, message: "slice step cannot be zero") }
        func indices(count: Int) throws(ChatTemplateError) -> [Int] {
            func clamp(_ i: Int?, _ defaultValue: Int) -> Int {
                guard var i else { return defaultValue }
                if i < 0 { i += count }
                return stepValue > 0 ? min(max(i, 0), count) : min(max(i, -1), count - 1)
            }
            let lower = clamp(try bound(start), stepValue > 0 ? 0 : count - 1)
            let upper = clamp(try bound(stop), stepValue > 0 ? count : -1)
            return Array(stride(from: lower, to: upper, by: stepValue))
        }
        switch value {
        case .array(let elements):
            return .array(try indices(count: elements.count).map { elements[$0] })
        case .tuple(let elements):
            return .tuple(try indices(count: elements.count).map { elements[$0] })
        case .string(let s):
            let scalars = Array(s.unicodeScalars)
            return .string(String(String.UnicodeScalarView(try indices(count: scalars.count).map { scalars[$0] })))
        case .undefined(let message):
            throw .runtime(line: line, message: "UndefinedError: \(message)")
        default:
            throw .runtime(line: line, message: "TypeError: '\(value.typeName)' object is not subscriptable")
        }
    }

    mutating func call(_ function: JinjaValue, _ arguments: CallArguments, line: Int) throws(ChatTemplateError) -> JinjaValue {
        guard case .callable(let callable) = function else {
            if case .undefined(let message) = function { throw .runtime(line: line, message: "UndefinedError: \(message)") }
            throw .runtime(line: line, message: "TypeError: '\(function.typeName)' object is not callable")
        }
        switch callable.kind {
        case .macro(let macro): return try callMacro(macro, arguments, line: line)
        case .global(let name): return try callGlobal(name, arguments, line: line)
        case .method(let receiver, let name): return try callMethod(name, on: receiver, arguments, line: line)
        }
    }
}
