// Executes statements: output, if, for (with jinja2's `loop` object), set, macros, call and
// filter blocks, with jinja2's scoping (a loop iteration and a macro call get their own scope).

struct Interpreter {
    /// Innermost last; `scopes[0]` holds the render's variables and top-level assignments.
    var scopes: [[String: JinjaValue]]
    let now: ChatTemplateDate

    init(variables: [String: JinjaValue], now: ChatTemplateDate) {
        scopes = [variables]
        self.now = now
    }

    /// How a statement list ended: normally, or by `{% break %}` / `{% continue %}`.
    enum Flow { case normal, breakLoop, continueLoop }

    mutating func render(_ nodes: [Node]) throws(ChatTemplateError) -> String {
        var out = ""
        _ = try execute(nodes, into: &out)
        return out
    }

    func lookup(_ name: String) -> JinjaValue? {
        for scope in scopes.reversed() {
            if let value = scope[name] { return value }
        }
        return nil
    }

    mutating func assign(_ name: String, _ value: JinjaValue) {
        scopes[scopes.count - 1][name] = value
    }

    mutating func execute(_ nodes: [Node], into out: inout String) throws(ChatTemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .output(let expression):
                out += try evaluate(expression).pythonString
            case .if(let branches, let otherwise):
                var taken: [Node] = otherwise
                for branch in branches {
                    if try evaluate(branch.condition).isTruthy {
                        taken = branch.body
                        break
                    }
                }
                let flow = try execute(taken, into: &out)
                if flow != .normal { return flow }
            case .for(let loop):
                try executeFor(loop, into: &out)
            case .set(let target, let expression, let line):
                try assign(target, try evaluate(expression), line: line)
            case .setBlock(let target, let filters, let body, let line):
                var captured = ""
                _ = try execute(body, into: &captured)
                try assign(target, try applyFilters(filters, to: .string(captured)), line: line)
            case .macro(let macro):
                assign(macro.name, .callable(JinjaCallable(kind: .macro(macro))))
            case .callBlock(let caller, let call):
                guard case .call(let callee, let arguments) = call.kind else { continue }
                var evaluated = try evaluateArguments(arguments)
                evaluated.keyword.append(("caller", .callable(JinjaCallable(kind: .macro(caller)))))
                out += try self.call(try evaluate(callee), evaluated, line: call.line).pythonString
            case .filterBlock(let filters, let body):
                var captured = ""
                _ = try execute(body, into: &captured)
                out += try applyFilters(filters, to: .string(captured)).pythonString
            case .break:
                return .breakLoop
            case .continue:
                return .continueLoop
            }
        }
        return .normal
    }

    mutating func applyFilters(_ filters: [FilterCall], to value: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        var result = value
        for filter in filters { result = try applyFilter(filter, to: result) }
        return result
    }

    mutating func assign(_ target: AssignTarget, _ value: JinjaValue, line: Int) throws(ChatTemplateError) {
        switch target {
        case .name(let name):
            assign(name, value)
        case .tuple(let names):
            let values = try unpack(value, count: names.count, line: line)
            for (name, element) in zip(names, values) { assign(name, element) }
        case .attribute(let name, let attribute):
            guard case .namespace(let namespace)? = lookup(name) else {
                throw .runtime(line: line, message: "cannot assign attribute '\(attribute)' on '\(name)': it is not a namespace")
            }
            namespace.attributes[attribute] = value
        }
    }

    /// Python's tuple unpacking of `value` into `count` names.
    func unpack(_ value: JinjaValue, count: Int, line: Int) throws(ChatTemplateError) -> [JinjaValue] {
        let elements = try iterate(value, line: line)
        guard elements.count == count else {
            let problem = elements.count > count ? "too many values to unpack" : "not enough values to unpack"
            throw .runtime(line: line, message: "\(problem) (expected \(count), got \(elements.count))")
        }
        return elements
    }

    /// The items a `for` loop visits: list elements, dict keys, string characters; undefined
    /// iterates as empty, anything else is Python's TypeError.
    func iterate(_ value: JinjaValue, line: Int) throws(ChatTemplateError) -> [JinjaValue] {
        switch value {
        case .undefined: return []
        case .array(let elements), .tuple(let elements): return elements
        case .object(let object): return object.keys.map(JinjaValue.string)
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        default: throw .runtime(line: line, message: "TypeError: '\(value.typeName)' object is not iterable")
        }
    }

    mutating func executeFor(_ loop: ForLoop, into out: inout String) throws(ChatTemplateError) {
        var items = try iterate(try evaluate(loop.iterable), line: loop.line)
        if let condition = loop.condition {
            var kept: [JinjaValue] = []
            for item in items {
                scopes.append([:])
                defer { scopes.removeLast() }
                try assign(loop.target, item, line: loop.line)
                if try evaluate(condition).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            _ = try execute(loop.otherwise, into: &out)
            return
        }
        for (index, item) in items.enumerated() {
            scopes.append(["loop": loopObject(items, index)])
            defer { scopes.removeLast() }
            try assign(loop.target, item, line: loop.line)
            if try execute(loop.body, into: &out) == .breakLoop { break }
        }
    }

    /// jinja2's `loop` variable for iteration `index` of `items`.
    func loopObject(_ items: [JinjaValue], _ index: Int) -> JinjaValue {
        let count = items.count
        var loop = JinjaObject([
            ("index", .int(index + 1)), ("index0", .int(index)),
            ("revindex", .int(count - index)), ("revindex0", .int(count - index - 1)),
            ("first", .bool(index == 0)), ("last", .bool(index == count - 1)),
            ("length", .int(count)), ("depth", .int(1)), ("depth0", .int(0)),
            // `loop.cycle(a, b, ...)`: a method bound to the iteration number.
            ("cycle", .callable(JinjaCallable(kind: .method(receiver: .int(index), name: "loop.cycle")))),
        ])
        loop["previtem"] = index > 0 ? items[index - 1] : .undefined("'loop.previtem' is undefined (first iteration)")
        loop["nextitem"] = index + 1 < count ? items[index + 1] : .undefined("'loop.nextitem' is undefined (last iteration)")
        return .object(loop)
    }

    /// Runs a macro with its parameters bound; it sees the top-level variables as they are now.
    mutating func callMacro(_ macro: Macro, _ arguments: CallArguments, line: Int) throws(ChatTemplateError) -> JinjaValue {
        var local: [String: JinjaValue] = [:]
        var keyword = arguments.keyword
        for (i, parameter) in macro.parameters.enumerated() {
            if i < arguments.positional.count {
                local[parameter.name] = arguments.positional[i]
            } else if let k = keyword.firstIndex(where: { $0.name == parameter.name }) {
                local[parameter.name] = keyword.remove(at: k).value
            } else if let defaultValue = parameter.defaultValue {
                local[parameter.name] = try evaluate(defaultValue)
            } else {
                local[parameter.name] = .undefined("parameter '\(parameter.name)' was not provided")
            }
        }
        local["varargs"] = .tuple(Array(arguments.positional.dropFirst(macro.parameters.count)))
        var extra = JinjaObject()
        for (name, value) in keyword {
            if name == "caller" { local["caller"] = value } else { extra[name] = value }
        }
        local["kwargs"] = .object(extra)
        let saved = scopes
        scopes = [scopes[0], local]
        defer { scopes = saved }
        var out = ""
        _ = try execute(macro.body, into: &out)
        return .string(out)
    }
}
