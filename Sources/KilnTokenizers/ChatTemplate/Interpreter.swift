// Runs a parsed template: statements write into the output, with jinja2's scoping (each loop
// iteration and macro call gets its own scope; `if` does not) and the sandbox's globals.

/// Variables visible at one point of a render; lookups fall back to the enclosing scope.
final class Scope {
    var variables: [String: JinjaValue] = [:]
    let parent: Scope?

    init(parent: Scope?) { self.parent = parent }

    func lookup(_ name: String) -> JinjaValue? {
        var scope: Scope? = self
        while let current = scope {
            if let value = current.variables[name] { return value }
            scope = current.parent
        }
        return nil
    }
}

/// How a run of statements ended: normally, or at `break` / `continue`.
enum Flow {
    case normal, breakLoop, continueLoop
}

/// A runtime error whose line the enclosing expression fills in (see `evaluate`).
func failure(_ message: String) -> ChatTemplateError {
    .runtime(line: 0, message: message)
}

/// The state of one render; not shared between threads.
final class Interpreter {
    let now: ChatTemplateDate
    /// Attributes of the `namespace()` objects made so far, indexed by `JinjaNamespace.id`.
    var namespaces: [JinjaDict] = []
    /// Macros defined so far with the scope they were defined in (they read it when called).
    var macros: [(macro: Macro, scope: Scope)] = []
    /// Macro calls in progress: runaway recursion must end in an error (Python's recursion
    /// limit in jinja2), not in a stack overflow.
    var macroDepth = 0
    static let maximumMacroDepth = 64

    static let globalFunctions = ["range", "namespace", "dict", "raise_exception", "strftime_now"]

    init(now: ChatTemplateDate) { self.now = now }

    func render(_ nodes: [Node], variables: [String: JinjaValue]) throws(ChatTemplateError) -> String {
        let globals = Scope(parent: nil)
        for name in Self.globalFunctions { globals.variables[name] = .callable(JinjaCallable(kind: .global(name))) }
        globals.variables.merge(variables) { $1 }
        var out = ""
        _ = try execute(nodes, in: Scope(parent: globals), into: &out)
        return out
    }

    func execute(_ nodes: [Node], in scope: Scope, into out: inout String) throws(ChatTemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                out += text
            case .output(let expression):
                out += string(of: try evaluate(expression, in: scope))
            case .forLoop(let loop):
                let flow = try executeLoop(loop, in: scope, into: &out)
                if flow != .normal { return flow }
            case .conditional(let branches, let otherwise):
                var body = otherwise
                for branch in branches where try evaluate(branch.condition, in: scope).isTruthy {
                    body = branch.body
                    break
                }
                let flow = try execute(body, in: scope, into: &out)
                if flow != .normal { return flow }
            case .set(let target, let expression, let line):
                try located(line) { () throws(ChatTemplateError) in try assign(try evaluate(expression, in: scope), to: target, in: scope) }
            case .setBlock(let target, let body, let filters, let line):
                var text = ""
                _ = try execute(body, in: scope, into: &text)
                let value = try applyFilters(filters, to: .string(text), in: scope)
                try located(line) { () throws(ChatTemplateError) in try assign(value, to: target, in: scope) }
            case .macro(let macro):
                scope.variables[macro.name] = .callable(JinjaCallable(kind: .macro(id: macros.count, name: macro.name)))
                macros.append((macro, scope))
            case .filterBlock(let filters, let body):
                var text = ""
                let flow = try execute(body, in: scope, into: &text)
                out += string(of: try applyFilters(filters, to: .string(text), in: scope))
                if flow != .normal { return flow }
            case .with(let assignments, let body, let line):
                let inner = Scope(parent: scope)
                var values: [JinjaValue] = []
                for (_, expression) in assignments { values.append(try evaluate(expression, in: scope)) }
                for ((target, _), value) in zip(assignments, values) {
                    try located(line) { () throws(ChatTemplateError) in try assign(value, to: target, in: inner) }
                }
                let flow = try execute(body, in: inner, into: &out)
                if flow != .normal { return flow }
            case .loopControl(let isBreak, _):
                return isBreak ? .breakLoop : .continueLoop
            }
        }
        return .normal
    }

    /// Runs `body`, giving errors without a line the statement's line.
    func located<T>(_ line: Int, _ body: () throws(ChatTemplateError) -> T) throws(ChatTemplateError) -> T {
        do {
            return try body()
        } catch .runtime(line: 0, let message) {
            throw .runtime(line: line, message: message)
        } catch {
            throw error
        }
    }

    private func executeLoop(_ loop: ForLoop, in scope: Scope, into out: inout String) throws(ChatTemplateError) -> Flow {
        let iterable = try evaluate(loop.iterable, in: scope)
        var items = try located(loop.line) { () throws(ChatTemplateError) in try elements(of: iterable) }
        if let filter = loop.filter {
            var kept: [JinjaValue] = []
            for item in items {
                let itemScope = Scope(parent: scope)
                try located(loop.line) { () throws(ChatTemplateError) in try assign(item, to: loop.target, in: itemScope) }
                if try evaluate(filter, in: itemScope).isTruthy { kept.append(item) }
            }
            items = kept
        }
        if items.isEmpty {
            return try execute(loop.otherwise, in: scope, into: &out)
        }
        for (index, item) in items.enumerated() {
            let iterationScope = Scope(parent: scope)
            iterationScope.variables["loop"] = .dict(loopObject(index: index, items: items))
            try located(loop.line) { () throws(ChatTemplateError) in try assign(item, to: loop.target, in: iterationScope) }
            if try execute(loop.body, in: iterationScope, into: &out) == .breakLoop { break }
        }
        return .normal
    }

    /// jinja2's `loop` variable; `previtem`/`nextitem` are missing (undefined) at the ends.
    private func loopObject(index: Int, items: [JinjaValue]) -> JinjaDict {
        var loop = JinjaDict()
        loop["index"] = .int(index + 1)
        loop["index0"] = .int(index)
        loop["revindex"] = .int(items.count - index)
        loop["revindex0"] = .int(items.count - index - 1)
        loop["first"] = .bool(index == 0)
        loop["last"] = .bool(index == items.count - 1)
        loop["length"] = .int(items.count)
        loop["depth"] = .int(1)
        loop["depth0"] = .int(0)
        if index > 0 { loop["previtem"] = items[index - 1] }
        if index + 1 < items.count { loop["nextitem"] = items[index + 1] }
        loop["cycle"] = .callable(JinjaCallable(kind: .cycle(index0: index)))
        return loop
    }

    func assign(_ value: JinjaValue, to target: AssignTarget, in scope: Scope) throws(ChatTemplateError) {
        switch target {
        case .name(let name):
            scope.variables[name] = value
        case .tuple(let targets):
            let values = try elements(of: value)
            guard values.count == targets.count else {
                throw failure(values.count < targets.count
                    ? "not enough values to unpack (expected \(targets.count), got \(values.count))"
                    : "too many values to unpack (expected \(targets.count))")
            }
            for (target, value) in zip(targets, values) { try assign(value, to: target, in: scope) }
        case .attribute(let object, let name):
            guard case .namespace(let namespace)? = scope.lookup(object) else {
                throw failure("cannot assign attribute on non-namespace object '\(object)'")
            }
            namespaces[namespace.id][name] = value
        }
    }

    /// What a `for` loop visits: list items, dict keys, string characters; undefined is empty.
    func elements(of value: JinjaValue) throws(ChatTemplateError) -> [JinjaValue] {
        switch value {
        case .list(let items), .tuple(let items): return items
        case .dict(let dict): return dict.keys
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .namespace, .callable, .none, .bool, .int, .double:
            throw failure("'\(value.typeName)' object is not iterable")
        }
    }

    /// `str(value)` as output shows it.
    func string(of value: JinjaValue) -> String {
        if case .namespace(let namespace) = value {
            return "<Namespace " + JinjaValue.dict(namespaces[namespace.id]).pythonRepr + ">"
        }
        return value.pythonString
    }

    private func applyFilters(_ filters: [FilterCall], to value: JinjaValue, in scope: Scope) throws(ChatTemplateError) -> JinjaValue {
        var value = value
        for filter in filters {
            let arguments = try evaluateArguments(filter.arguments, in: scope)
            value = try located(filter.line) { () throws(ChatTemplateError) in try applyFilter(filter.name, to: value, arguments) }
        }
        return value
    }
}
