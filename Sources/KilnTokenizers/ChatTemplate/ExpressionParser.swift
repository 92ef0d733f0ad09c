// Expressions, with jinja2's precedence: conditional < or < and < not < comparisons <
// + - < ~ < * / // % < ** < unary - + < postfix (. [] ()) and filters / tests.

extension Parser {
    /// An expression, or a bare tuple `a, b` where jinja2 allows one (`{{ }}`, `set`, `for`).
    mutating func parseTuple(conditional: Bool = true) throws(ChatTemplateError) -> Expr {
        let line = current.line
        let first = conditional ? try parseExpression() : try parseOr()
        guard current.isOp(",") else { return first }
        var elements = [first]
        while skipOp(",") {
            if isTupleEnd { break }
            elements.append(conditional ? try parseExpression() : try parseOr())
        }
        return Expr(line: line, kind: .tuple(elements))
    }

    private var isTupleEnd: Bool {
        current.kind == .blockEnd || current.kind == .variableEnd || current.isOp(")") || current.isName("if") || current.isName("in")
    }

    mutating func parseExpression() throws(ChatTemplateError) -> Expr {
        var expression = try parseOr()
        while current.isName("if") {
            let line = advance().line
            let condition = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            expression = Expr(line: line, kind: .conditional(condition: condition, then: expression, otherwise: otherwise))
        }
        return expression
    }

    mutating func parseOr() throws(ChatTemplateError) -> Expr {
        var left = try parseAnd()
        while current.isName("or") {
            let line = advance().line
            left = Expr(line: line, kind: .or(left, try parseAnd()))
        }
        return left
    }

    mutating func parseAnd() throws(ChatTemplateError) -> Expr {
        var left = try parseNot()
        while current.isName("and") {
            let line = advance().line
            left = Expr(line: line, kind: .and(left, try parseNot()))
        }
        return left
    }

    mutating func parseNot() throws(ChatTemplateError) -> Expr {
        if current.isName("not") {
            let line = advance().line
            return Expr(line: line, kind: .not(try parseNot()))
        }
        return try parseCompare()
    }

    mutating func parseCompare() throws(ChatTemplateError) -> Expr {
        let line = current.line
        let first = try parseMath1()
        var operations: [(op: CompareOperator, rhs: Expr)] = []
        while true {
            if current.kind == .op, let op = CompareOperator(rawValue: current.value) {
                advance()
                operations.append((op, try parseMath1()))
            } else if skipName("in") {
                operations.append((.in, try parseMath1()))
            } else if current.isName("not"), tokens[index + 1].isName("in") {
                advance()
                advance()
                operations.append((.notIn, try parseMath1()))
            } else {
                break
            }
        }
        return operations.isEmpty ? first : Expr(line: line, kind: .compare(first, operations))
    }

    private mutating func parseBinary(_ operators: [String], next: (inout Parser) throws(ChatTemplateError) -> Expr) throws(ChatTemplateError) -> Expr {
        var left = try next(&self)
        while current.kind == .op, operators.contains(current.value) {
            let token = advance()
            left = Expr(line: token.line, kind: .binary(BinaryOperator(rawValue: token.value)!, left, try next(&self)))
        }
        return left
    }

    mutating func parseMath1() throws(ChatTemplateError) -> Expr {
        try parseBinary(["+", "-"]) { (p: inout Parser) throws(ChatTemplateError) in try p.parseConcat() }
    }

    mutating func parseConcat() throws(ChatTemplateError) -> Expr {
        try parseBinary(["~"]) { (p: inout Parser) throws(ChatTemplateError) in try p.parseMath2() }
    }

    mutating func parseMath2() throws(ChatTemplateError) -> Expr {
        try parseBinary(["*", "/", "//", "%"]) { (p: inout Parser) throws(ChatTemplateError) in try p.parsePower() }
    }

    mutating func parsePower() throws(ChatTemplateError) -> Expr {
        try parseBinary(["**"]) { (p: inout Parser) throws(ChatTemplateError) in try p.parseUnary(withFilters: true) }
    }

    /// jinja2 binds a leading minus tighter than filters: `-x|abs` is `(-x)|abs`.
    mutating func parseUnary(withFilters: Bool) throws(ChatTemplateError) -> Expr {
        let line = current.line
        var expression: Expr
        if skipOp("-") {
            expression = Expr(line: line, kind: .negate(try parseUnary(withFilters: false)))
        } else if skipOp("+") {
            expression = Expr(line: line, kind: .plus(try parseUnary(withFilters: false)))
        } else {
            expression = try parsePrimary()
        }
        expression = try parsePostfix(expression)
        return withFilters ? try parseFilterExpression(expression) : expression
    }

    mutating func parsePrimary() throws(ChatTemplateError) -> Expr {
        let token = advance()
        let line = token.line
        switch token.kind {
        case .name:
            switch token.value {
            case "true", "True": return Expr(line: line, kind: .literal(.bool(true)))
            case "false", "False": return Expr(line: line, kind: .literal(.bool(false)))
            case "none", "None": return Expr(line: line, kind: .literal(.none))
            default: return Expr(line: line, kind: .name(token.value))
            }
        case .string:
            // Adjacent string literals concatenate, as in Python.
            var text = token.value
            while current.kind == .string { text += advance().value }
            return Expr(line: line, kind: .literal(.string(text)))
        case .integer:
            guard let value = Int(token.value) else { throw error("integer literal \(token.value) is too large", at: token) }
            return Expr(line: line, kind: .literal(.int(value)))
        case .float:
            return Expr(line: line, kind: .literal(.double(Double(token.value) ?? .infinity)))
        case .op where token.value == "(":
            if skipOp(")") { return Expr(line: line, kind: .tuple([])) }
            let inner = try parseTuple()
            try expectOp(")")
            return inner
        case .op where token.value == "[":
            var elements: [Expr] = []
            while !current.isOp("]") {
                if !elements.isEmpty { try expectOp(",") }
                if current.isOp("]") { break }
                elements.append(try parseExpression())
            }
            advance()
            return Expr(line: line, kind: .list(elements))
        case .op where token.value == "{":
            var members: [(key: Expr, value: Expr)] = []
            while !current.isOp("}") {
                if !members.isEmpty { try expectOp(",") }
                if current.isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                members.append((key, try parseExpression()))
            }
            advance()
            return Expr(line: line, kind: .dict(members))
        default:
            throw error("unexpected \(describe(token))", at: token)
        }
    }

    mutating func parsePostfix(_ base: Expr) throws(ChatTemplateError) -> Expr {
        var expression = base
        while true {
            let line = current.line
            if skipOp(".") {
                let token = advance()
                switch token.kind {
                case .name: expression = Expr(line: line, kind: .attribute(expression, token.value))
                case .integer: expression = Expr(line: line, kind: .item(expression, Expr(line: line, kind: .literal(.int(Int(token.value) ?? 0)))))
                default: throw error("expected a name after '.', got \(describe(token))", at: token)
                }
            } else if skipOp("[") {
                expression = try parseSubscript(expression, line: line)
            } else if current.isOp("(") {
                expression = Expr(line: line, kind: .call(expression, try parseArguments()))
            } else {
                return expression
            }
        }
    }

    /// `[i]`, `[a, b]` (a tuple key) or a slice `[start:stop:step]`; the `[` is consumed.
    private mutating func parseSubscript(_ base: Expr, line: Int) throws(ChatTemplateError) -> Expr {
        func bound(_ p: inout Parser) throws(ChatTemplateError) -> Expr? {
            p.current.isOp(":") || p.current.isOp("]") ? nil : try p.parseExpression()
        }
        let start = try bound(&self)
        guard skipOp(":") else {
            guard let start else { throw error("expected a subscript, got \(describe(current))") }
            var key = start
            if current.isOp(",") {
                var elements = [start]
                while skipOp(","), !current.isOp("]") { elements.append(try parseExpression()) }
                key = Expr(line: line, kind: .tuple(elements))
            }
            try expectOp("]")
            return Expr(line: line, kind: .item(base, key))
        }
        let stop = try bound(&self)
        let step = skipOp(":") ? try bound(&self) : nil
        try expectOp("]")
        return Expr(line: line, kind: .slice(base, start: start, stop: stop, step: step))
    }

    /// `(a, b, name=c)`; the `(` is the current token.
    mutating func parseArguments() throws(ChatTemplateError) -> Arguments {
        try expectOp("(")
        var arguments = Arguments()
        while !current.isOp(")") {
            if !arguments.positional.isEmpty || !arguments.keyword.isEmpty { try expectOp(",") }
            if current.isOp(")") { break }
            if current.kind == .name, tokens[index + 1].isOp("=") {
                let name = advance().value
                advance()
                arguments.keyword.append((name, try parseExpression()))
            } else {
                guard arguments.keyword.isEmpty else { throw error("positional argument follows keyword argument") }
                arguments.positional.append(try parseExpression())
            }
        }
        advance()
        return arguments
    }

    /// A filter name (dotted names allowed, as in jinja2) and its optional arguments.
    mutating func parseFilterCall() throws(ChatTemplateError) -> FilterCall {
        let line = current.line
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        let arguments = current.isOp("(") ? try parseArguments() : Arguments()
        return FilterCall(name: name, arguments: arguments, line: line)
    }

    /// Filters (`|f`), tests (`is [not] t`) and calls after a unary expression.
    mutating func parseFilterExpression(_ base: Expr) throws(ChatTemplateError) -> Expr {
        var expression = base
        while true {
            let line = current.line
            if skipOp("|") {
                expression = Expr(line: line, kind: .filter(expression, try parseFilterCall()))
            } else if skipName("is") {
                let negated = skipName("not")
                var name = try expectName()
                while skipOp(".") { name += "." + (try expectName()) }
                var arguments = Arguments()
                if current.isOp("(") {
                    arguments = try parseArguments()
                } else if [.name, .string, .integer, .float].contains(current.kind) || current.isOp("[") || current.isOp("{"),
                          !["else", "or", "and"].contains(where: current.isName) {
                    // `x is divisibleby 3`: one argument without parentheses.
                    arguments.positional = [try parsePostfix(try parsePrimary())]
                }
                expression = Expr(line: line, kind: .test(expression, name: name, arguments, negated: negated))
            } else if current.isOp("(") {
                expression = Expr(line: line, kind: .call(expression, try parseArguments()))
            } else {
                return expression
            }
        }
    }
}
