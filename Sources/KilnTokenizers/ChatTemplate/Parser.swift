// Turns tokens into statements: text, `{{ }}` output and the block tags (for, if, set,
// macro, filter, with, break/continue, generation), following jinja2's parser.

struct Parser {
    var tokens: [Token]
    var index = 0
    /// Enclosing `for` loops, so `break` outside one is refused as jinja2 does.
    var loopDepth = 0
    /// Variable names read since the innermost macro began (to see whether it uses `varargs`).
    var namesRead: Set<String> = []

    static func parse(_ source: String) throws(ChatTemplateError) -> [Node] {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        return try parser.parseBody(until: [], opener: nil).nodes
    }

    var current: Token { tokens[index] }

    @discardableResult
    mutating func advance() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    func error(_ message: String, at token: Token? = nil) -> ChatTemplateError {
        let token = token ?? current
        return .syntax(line: token.line, column: token.column, message: message)
    }

    func isName(_ name: String) -> Bool { current.kind == .name(name) }
    func isOp(_ op: String) -> Bool { current.kind == .op(op) }

    mutating func skipName(_ name: String) -> Bool {
        guard isName(name) else { return false }
        advance()
        return true
    }

    mutating func skipOp(_ op: String) -> Bool {
        guard isOp(op) else { return false }
        advance()
        return true
    }

    mutating func expectOp(_ op: String) throws(ChatTemplateError) {
        guard skipOp(op) else { throw error("expected '\(op)', got \(describe(current))") }
    }

    mutating func expectName() throws(ChatTemplateError) -> String {
        guard case .name(let name) = current.kind else { throw error("expected a name, got \(describe(current))") }
        advance()
        return name
    }

    mutating func expectBlockEnd() throws(ChatTemplateError) {
        guard current.kind == .blockEnd else { throw error("expected end of statement '%}', got \(describe(current))") }
        advance()
    }

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .text: "text"
        case .blockBegin: "'{%'"
        case .blockEnd: "'%}'"
        case .variableBegin: "'{{'"
        case .variableEnd: "'}}'"
        case .name(let name): "'\(name)'"
        case .string(let s): pythonStringRepr(s)
        case .integer(let i): "'\(i)'"
        case .float(let d): "'\(pythonFloatString(d))'"
        case .op(let op): "'\(op)'"
        case .end: "end of template"
        }
    }

    /// Nodes up to one of `endTags` (consumed with its `{%` and name, the rest of that tag
    /// left to the caller), or to the end of the template when `opener` is nil.
    mutating func parseBody(until endTags: Set<String>, opener: (tag: String, line: Int)?) throws(ChatTemplateError) -> (nodes: [Node], endTag: String?) {
        var nodes: [Node] = []
        while true {
            switch current.kind {
            case .text(let text):
                nodes.append(.text(text))
                advance()
            case .variableBegin:
                advance()
                let expression = try parseTuple()
                guard current.kind == .variableEnd else { throw error("expected end of print statement '}}', got \(describe(current))") }
                advance()
                nodes.append(.output(expression))
            case .blockBegin:
                advance()
                guard case .name(let tag) = current.kind else { throw error("expected a tag name, got \(describe(current))") }
                if endTags.contains(tag) {
                    advance()
                    return (nodes, tag)
                }
                nodes.append(contentsOf: try parseStatement(tag))
            case .end:
                if let opener {
                    throw error("expected 'end\(opener.tag)' to close '\(opener.tag)' opened on line \(opener.line)")
                }
                return (nodes, nil)
            default:
                throw error("unexpected \(describe(current))")
            }
        }
    }

    private mutating func parseStatement(_ tag: String) throws(ChatTemplateError) -> [Node] {
        let tagToken = advance()
        let line = tagToken.line
        switch tag {
        case "for": return [try parseFor(line: line)]
        case "if": return [try parseIf(line: line)]
        case "set": return [try parseSet(line: line)]
        case "macro": return [try parseMacro(line: line)]
        case "filter":
            let filters = try parseFilterCalls()
            try expectBlockEnd()
            let body = try parseBody(until: ["endfilter"], opener: ("filter", line)).nodes
            try expectBlockEnd()
            return [.filterBlock(filters, body: body)]
        case "with": return [try parseWith(line: line)]
        case "break", "continue":
            guard loopDepth > 0 else { throw error("'\(tag)' outside of a loop", at: tagToken) }
            try expectBlockEnd()
            return [.loopControl(isBreak: tag == "break", line: line)]
        case "generation":
            // transformers' AssistantTracker: the body renders as is.
            try expectBlockEnd()
            let body = try parseBody(until: ["endgeneration"], opener: ("generation", line)).nodes
            try expectBlockEnd()
            return body
        default:
            if tag.hasPrefix("end") || tag == "else" || tag == "elif" {
                throw error("unexpected '\(tag)'", at: tagToken)
            }
            throw error("unknown tag '\(tag)'", at: tagToken)
        }
    }

    private mutating func parseFor(line: Int) throws(ChatTemplateError) -> Node {
        let target = try parseAssignTarget(allowNamespace: false)
        guard skipName("in") else { throw error("expected 'in' in a for loop, got \(describe(current))") }
        let iterable = try parseTuple(withCondition: false)
        let filter = skipName("if") ? try parseExpression() : nil
        if isName("recursive") { throw error("recursive loops are not supported") }
        try expectBlockEnd()
        loopDepth += 1
        let (body, end) = try parseBody(until: ["endfor", "else"], opener: ("for", line))
        loopDepth -= 1
        try expectBlockEnd()
        var otherwise: [Node] = []
        if end == "else" {
            otherwise = try parseBody(until: ["endfor"], opener: ("for", line)).nodes
            try expectBlockEnd()
        }
        return .forLoop(ForLoop(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, line: line))
    }

    private mutating func parseIf(line: Int) throws(ChatTemplateError) -> Node {
        var branches: [(condition: Expression, body: [Node])] = []
        var condition = try parseTuple(withCondition: false)
        while true {
            try expectBlockEnd()
            let (body, end) = try parseBody(until: ["elif", "else", "endif"], opener: ("if", line))
            branches.append((condition, body))
            switch end {
            case "elif":
                condition = try parseTuple(withCondition: false)
            case "else":
                try expectBlockEnd()
                let otherwise = try parseBody(until: ["endif"], opener: ("if", line)).nodes
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: otherwise)
            default:
                try expectBlockEnd()
                return .conditional(branches: branches, otherwise: [])
            }
        }
    }

    private mutating func parseSet(line: Int) throws(ChatTemplateError) -> Node {
        let target = try parseAssignTarget(allowNamespace: true)
        if skipOp("=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return .set(target, value, line: line)
        }
        let filters = isOp("|") ? try parseFilterCalls(pipeConsumed: false) : []
        try expectBlockEnd()
        let body = try parseBody(until: ["endset"], opener: ("set", line)).nodes
        try expectBlockEnd()
        return .setBlock(target, body: body, filters: filters, line: line)
    }

    private mutating func parseMacro(line: Int) throws(ChatTemplateError) -> Node {
        let name = try expectName()
        try expectOp("(")
        var parameters: [(name: String, defaultValue: Expression?)] = []
        while !skipOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if skipOp(")") { break }
            let parameter = try expectName()
            let defaultValue = skipOp("=") ? try parseExpression() : nil
            if defaultValue == nil && parameters.last?.defaultValue != nil {
                throw error("non-default argument '\(parameter)' follows default argument")
            }
            parameters.append((parameter, defaultValue))
        }
        try expectBlockEnd()
        let outerNames = namesRead
        let outerLoopDepth = loopDepth
        namesRead = []
        loopDepth = 0
        let body = try parseBody(until: ["endmacro"], opener: ("macro", line)).nodes
        if case .name = current.kind { advance() }  // `{% endmacro name %}`
        try expectBlockEnd()
        let macro = Macro(name: name, parameters: parameters, body: body,
                          takesVarargs: namesRead.contains("varargs"), takesKwargs: namesRead.contains("kwargs"))
        namesRead.formUnion(outerNames)
        loopDepth = outerLoopDepth
        return .macro(macro)
    }

    private mutating func parseWith(line: Int) throws(ChatTemplateError) -> Node {
        var assignments: [(AssignTarget, Expression)] = []
        while current.kind != .blockEnd {
            if !assignments.isEmpty { try expectOp(",") }
            let target = try parseAssignTarget(allowNamespace: false)
            try expectOp("=")
            assignments.append((target, try parseExpression()))
        }
        try expectBlockEnd()
        let body = try parseBody(until: ["endwith"], opener: ("with", line)).nodes
        try expectBlockEnd()
        return .with(assignments: assignments, body: body, line: line)
    }

    /// A variable, `ns.attribute` (for `set`), or names separated by commas, optionally in
    /// parentheses.
    private mutating func parseAssignTarget(allowNamespace: Bool) throws(ChatTemplateError) -> AssignTarget {
        if allowNamespace, case .name(let object) = current.kind, tokens[index + 1].kind == .op(".") {
            advance()
            advance()
            return .attribute(object: object, name: try expectName())
        }
        var targets: [AssignTarget] = []
        var isTuple = false
        repeat {
            if isName("in") || isOp("=") { break }
            if skipOp("(") {
                targets.append(try parseAssignTarget(allowNamespace: false))
                try expectOp(")")
            } else {
                let name = try expectName()
                guard !["true", "false", "none", "True", "False", "None"].contains(name) else { throw error("cannot assign to '\(name)'") }
                targets.append(.name(name))
            }
            if isOp(",") { isTuple = true }
        } while skipOp(",")
        guard let first = targets.first else { throw error("expected a name to assign to, got \(describe(current))") }
        return isTuple ? .tuple(targets) : first
    }

    /// `| name(args) | name …`; at `{% filter` the first pipe is implied (`pipeConsumed`).
    mutating func parseFilterCalls(pipeConsumed: Bool = true) throws(ChatTemplateError) -> [FilterCall] {
        var calls: [FilterCall] = []
        var first = pipeConsumed
        while first || skipOp("|") {
            first = false
            let token = current
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            guard Filters.names.contains(name) else { throw error("unknown filter '\(name)'", at: token) }
            let arguments = isOp("(") ? try parseCallArguments() : Arguments()
            calls.append(FilterCall(name: name, arguments: arguments, line: token.line))
        }
        return calls
    }
}
