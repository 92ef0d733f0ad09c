// Turns tokens into statements: text, `{{ }}` output and the block tags jinja2 (with
// transformers' extensions) knows: for, if, set, macro, call, filter, break/continue, generation.

struct Parser {
    var tokens: [Token]
    var index = 0

    static func parse(_ source: String) throws(ChatTemplateError) -> [Node] {
        var parser = Parser(tokens: try Lexer.tokenize(source))
        let (nodes, _) = try parser.parseBody(until: [], opener: nil)
        return nodes
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

    func describe(_ token: Token) -> String {
        switch token.kind {
        case .end: "end of template"
        case .blockEnd: "'%}'"
        case .variableEnd: "'}}'"
        case .string: "string '\(token.value)'"
        default: "'\(token.value)'"
        }
    }

    mutating func skipName(_ name: String) -> Bool {
        guard current.isName(name) else { return false }
        advance()
        return true
    }

    mutating func skipOp(_ op: String) -> Bool {
        guard current.isOp(op) else { return false }
        advance()
        return true
    }

    mutating func expectOp(_ op: String) throws(ChatTemplateError) {
        guard skipOp(op) else { throw error("expected '\(op)', got \(describe(current))") }
    }

    mutating func expectName() throws(ChatTemplateError) -> String {
        guard current.kind == .name else { throw error("expected a name, got \(describe(current))") }
        return advance().value
    }

    mutating func expectBlockEnd() throws(ChatTemplateError) {
        guard current.kind == .blockEnd else { throw error("expected '%}', got \(describe(current))") }
        advance()
    }

    /// Statements up to one of the `until` tags (consumed, and returned with its name); the
    /// end of the template is only allowed at top level (`opener == nil`).
    mutating func parseBody(until: Set<String>, opener: (tag: String, line: Int)?) throws(ChatTemplateError) -> ([Node], String) {
        var nodes: [Node] = []
        while true {
            let token = current
            switch token.kind {
            case .end:
                if let opener {
                    let expected = until.sorted().map { "'\($0)'" }.joined(separator: " or ")
                    throw error("'\(opener.tag)' opened on line \(opener.line) is never closed (expected \(expected))")
                }
                return (nodes, "")
            case .text:
                advance()
                nodes.append(.text(token.value))
            case .variableBegin:
                advance()
                let expression = try parseTuple()
                guard current.kind == .variableEnd else { throw error("expected '}}', got \(describe(current))") }
                advance()
                nodes.append(.output(expression))
            case .blockBegin:
                advance()
                guard current.kind == .name else { throw error("expected a tag name, got \(describe(current))") }
                let tag = current.value
                if until.contains(tag) {
                    advance()
                    return (nodes, tag)
                }
                nodes.append(contentsOf: try parseStatement())
            default:
                throw error("unexpected \(describe(token))")
            }
        }
    }

    mutating func parseStatement() throws(ChatTemplateError) -> [Node] {
        let tagToken = advance()
        let line = tagToken.line
        switch tagToken.value {
        case "if": return [try parseIf(line: line)]
        case "for": return [try parseFor(line: line)]
        case "set": return [try parseSet(line: line)]
        case "macro": return [try parseMacro(line: line)]
        case "call": return [try parseCallBlock(line: line)]
        case "filter":
            let filters = try parseFilterChain()
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endfilter"], opener: ("filter", line))
            try expectBlockEnd()
            return [.filterBlock(filters: filters, body: body)]
        case "generation":
            // transformers' AssistantTracker: the body renders as is.
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endgeneration"], opener: ("generation", line))
            try expectBlockEnd()
            return body
        case "break", "continue":
            try expectBlockEnd()
            return [tagToken.value == "break" ? .break : .continue]
        default:
            throw error("unknown tag '\(tagToken.value)'", at: tagToken)
        }
    }

    mutating func parseIf(line: Int) throws(ChatTemplateError) -> Node {
        var branches: [(condition: Expr, body: [Node])] = []
        var condition = try parseTuple(conditional: true)
        while true {
            try expectBlockEnd()
            let (body, tag) = try parseBody(until: ["elif", "else", "endif"], opener: ("if", line))
            branches.append((condition, body))
            switch tag {
            case "elif":
                condition = try parseTuple(conditional: true)
            case "else":
                try expectBlockEnd()
                let (otherwise, _) = try parseBody(until: ["endif"], opener: ("if", line))
                try expectBlockEnd()
                return .if(branches: branches, otherwise: otherwise)
            default:
                try expectBlockEnd()
                return .if(branches: branches, otherwise: [])
            }
        }
    }

    mutating func parseFor(line: Int) throws(ChatTemplateError) -> Node {
        let target = try parseAssignTarget(allowAttribute: false)
        guard skipName("in") else { throw error("expected 'in', got \(describe(current))") }
        // Without conditional expressions, so `for x in xs if cond` reads `if` as the filter.
        let iterable = try parseTuple(conditional: false)
        let condition = skipName("if") ? try parseTuple(conditional: true) : nil
        if current.isName("recursive") { throw error("recursive loops are not supported") }
        try expectBlockEnd()
        let (body, tag) = try parseBody(until: ["endfor", "else"], opener: ("for", line))
        var otherwise: [Node] = []
        if tag == "else" {
            try expectBlockEnd()
            (otherwise, _) = try parseBody(until: ["endfor"], opener: ("for", line))
        }
        try expectBlockEnd()
        return .for(ForLoop(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise, line: line))
    }

    mutating func parseAssignTarget(allowAttribute: Bool) throws(ChatTemplateError) -> AssignTarget {
        let parenthesized = skipOp("(")
        let first = try expectName()
        if allowAttribute, !parenthesized, skipOp(".") {
            return .attribute(first, try expectName())
        }
        var names = [first]
        var isTuple = parenthesized
        while skipOp(",") {
            isTuple = true
            guard current.kind == .name, !current.isName("in") else { break }
            names.append(try expectName())
        }
        if parenthesized { try expectOp(")") }
        return isTuple ? .tuple(names) : .name(first)
    }

    mutating func parseSet(line: Int) throws(ChatTemplateError) -> Node {
        let target = try parseAssignTarget(allowAttribute: true)
        if skipOp("=") {
            let value = try parseTuple()
            try expectBlockEnd()
            return .set(target, value, line: line)
        }
        let filters = current.isOp("|") ? try parseFilterChain() : []
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endset"], opener: ("set", line))
        try expectBlockEnd()
        return .setBlock(target, filters: filters, body: body, line: line)
    }

    /// `name(arg, arg=default, ...)` of a macro or a call block's caller.
    mutating func parseParameters() throws(ChatTemplateError) -> [(name: String, defaultValue: Expr?)] {
        var parameters: [(name: String, defaultValue: Expr?)] = []
        try expectOp("(")
        while !current.isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if current.isOp(")") { break }
            let name = try expectName()
            let defaultValue = skipOp("=") ? try parseExpression() : nil
            if defaultValue == nil, parameters.last?.defaultValue != nil {
                throw error("non-default argument '\(name)' follows default argument")
            }
            parameters.append((name, defaultValue))
        }
        advance()
        return parameters
    }

    mutating func parseMacro(line: Int) throws(ChatTemplateError) -> Node {
        let name = try expectName()
        let parameters = try parseParameters()
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endmacro"], opener: ("macro", line))
        try expectBlockEnd()
        return .macro(Macro(name: name, parameters: parameters, body: body))
    }

    mutating func parseCallBlock(line: Int) throws(ChatTemplateError) -> Node {
        let parameters = current.isOp("(") ? try parseParameters() : []
        let call = try parseExpression()
        guard case .call = call.kind else { throw error("expected a call after 'call'") }
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endcall"], opener: ("call", line))
        try expectBlockEnd()
        return .callBlock(caller: Macro(name: "caller", parameters: parameters, body: body), call: call)
    }

    /// `| f(args) | g ...` after `filter` or a block `set` (the first `|` is optional).
    mutating func parseFilterChain() throws(ChatTemplateError) -> [FilterCall] {
        var filters: [FilterCall] = []
        _ = skipOp("|")
        repeat {
            filters.append(try parseFilterCall())
        } while skipOp("|")
        return filters
    }
}
