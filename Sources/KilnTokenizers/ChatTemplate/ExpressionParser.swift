// Expressions by recursive descent with jinja2's precedence: conditional, or, and, not,
// comparisons, + -, ~, * / // %, **, unary, then postfix, filters and tests (which bind
// tighter than arithmetic: `a + b | trim` trims only b).

extension Parser {
    /// Expressions separated by commas make a tuple (`{{ a, b }}`, `for x in a, b`).
    mutating func parseTuple(withCondition: Bool = true, explicitParentheses: Bool = false) throws(ChatTemplateError) -> Expression {
        let line = current.line
        var elements: [Expression] = []
        var isTuple = false
        while true {
            if !elements.isEmpty { try expectOp(",") }
            if current.kind == .variableEnd || current.kind == .blockEnd || isOp(")") { break }
            elements.append(try parseExpression(withCondition: withCondition))
            guard isOp(",") else { break }
            isTuple = true
        }
        if !isTuple {
            if let only = elements.first { return only }
            if !explicitParentheses { throw error("expected an expression, got \(describe(current))") }
        }
        return Expression(kind: .tuple(elements), line: line)
    }

    mutating func parseExpression(withCondition: Bool = true) throws(ChatTemplateError) -> Expression {
        withCondition ? try parseConditional() : try parseOr()
    }

    private mutating func parseConditional() throws(ChatTemplateError) -> Expression {
        var expression = try parseOr()
        while isName("if") {
            let line = advance().line
            let condition = try parseOr()
            let otherwise = skipName("else") ? try parseConditional() : nil
            expression = Expression(kind: .conditional(condition: condition, then: expression, otherwise: otherwise), line: line)
        }
        return expression
    }

    private mutating func parseOr() throws(ChatTemplateError) -> Expression {
        var left = try parseAnd()
        while isName("or") {
            let line = advance().line
            left = Expression(kind: .or(left, try parseAnd()), line: line)
        }
        return left
    }

    private mutating func parseAnd() throws(ChatTemplateError) -> Expression {
        var left = try parseNot()
        while isName("and") {
            let line = advance().line
            left = Expression(kind: .and(left, try parseNot()), line: line)
        }
        return left
    }

    private mutating func parseNot() throws(ChatTemplateError) -> Expression {
        guard isName("not") else { return try parseCompare() }
        let line = advance().line
        return Expression(kind: .not(try parseNot()), line: line)
    }

    private mutating func parseCompare() throws(ChatTemplateError) -> Expression {
        let first = try parseAdditive()
        var operations: [(op: String, operand: Expression)] = []
        while true {
            if case .op(let op) = current.kind, ["==", "!=", "<", "<=", ">", ">="].contains(op) {
                advance()
                operations.append((op, try parseAdditive()))
            } else if skipName("in") {
                operations.append(("in", try parseAdditive()))
            } else if isName("not"), tokens[index + 1].kind == .name("in") {
                advance()
                advance()
                operations.append(("not in", try parseAdditive()))
            } else {
                break
            }
        }
        return operations.isEmpty ? first : Expression(kind: .compare(first, operations), line: first.line)
    }

    private mutating func parseAdditive() throws(ChatTemplateError) -> Expression {
        var left = try parseConcat()
        while case .op(let op) = current.kind, op == "+" || op == "-" {
            let line = advance().line
            left = Expression(kind: .binary(op, left, try parseConcat()), line: line)
        }
        return left
    }

    private mutating func parseConcat() throws(ChatTemplateError) -> Expression {
        var left = try parseMultiplicative()
        while isOp("~") {
            let line = advance().line
            left = Expression(kind: .binary("~", left, try parseMultiplicative()), line: line)
        }
        return left
    }

    private mutating func parseMultiplicative() throws(ChatTemplateError) -> Expression {
        var left = try parsePower()
        while case .op(let op) = current.kind, ["*", "/", "//", "%"].contains(op) {
            let line = advance().line
            left = Expression(kind: .binary(op, left, try parsePower()), line: line)
        }
        return left
    }

    private mutating func parsePower() throws(ChatTemplateError) -> Expression {
        var left = try parseUnary()
        while isOp("**") {
            let line = advance().line
            left = Expression(kind: .binary("**", left, try parseUnary()), line: line)
        }
        return left
    }

    /// jinja2 applies filters and tests to the whole of `-x` (`-x|abs` is `(-x)|abs`).
    private mutating func parseUnary(withFilters: Bool = true) throws(ChatTemplateError) -> Expression {
        var expression: Expression
        if case .op(let op) = current.kind, op == "-" || op == "+" {
            let line = advance().line
            expression = Expression(kind: .unary(op, try parseUnary(withFilters: false)), line: line)
        } else {
            expression = try parsePrimary()
        }
        expression = try parsePostfix(expression)
        return withFilters ? try parseFiltersAndTests(expression) : expression
    }

    private mutating func parsePrimary() throws(ChatTemplateError) -> Expression {
        let token = current
        let line = token.line
        switch token.kind {
        case .name(let name):
            advance()
            switch name {
            case "true", "True": return Expression(kind: .literal(.bool(true)), line: line)
            case "false", "False": return Expression(kind: .literal(.bool(false)), line: line)
            case "none", "None": return Expression(kind: .literal(.none), line: line)
            default:
                namesRead.insert(name)
                return Expression(kind: .name(name), line: line)
            }
        case .string(var text):
            advance()
            while case .string(let next) = current.kind {  // adjacent literals join
                text += next
                advance()
            }
            return Expression(kind: .literal(.string(text)), line: line)
        case .integer(let i):
            advance()
            return Expression(kind: .literal(.int(i)), line: line)
        case .float(let d):
            advance()
            return Expression(kind: .literal(.double(d)), line: line)
        case .op("("):
            advance()
            let expression = try parseTuple(explicitParentheses: true)
            try expectOp(")")
            return expression
        case .op("["):
            advance()
            var elements: [Expression] = []
            while !skipOp("]") {
                if !elements.isEmpty { try expectOp(",") }
                if skipOp("]") { break }
                elements.append(try parseExpression())
            }
            return Expression(kind: .list(elements), line: line)
        case .op("{"):
            advance()
            var members: [(key: Expression, value: Expression)] = []
            while !skipOp("}") {
                if !members.isEmpty { try expectOp(",") }
                if skipOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                members.append((key, try parseExpression()))
            }
            return Expression(kind: .dict(members), line: line)
        default:
            throw error("unexpected \(describe(token))")
        }
    }

    private mutating func parsePostfix(_ expression: Expression) throws(ChatTemplateError) -> Expression {
        var expression = expression
        while true {
            let line = current.line
            if skipOp(".") {
                switch current.kind {
                case .name(let name):
                    advance()
                    expression = Expression(kind: .attribute(expression, name), line: line)
                case .integer(let i):
                    advance()
                    expression = Expression(kind: .item(expression, Expression(kind: .literal(.int(i)), line: line)), line: line)
                default:
                    throw error("expected an attribute name after '.', got \(describe(current))")
                }
            } else if skipOp("[") {
                expression = try parseSubscript(expression, line: line)
            } else if isOp("(") {
                expression = Expression(kind: .call(expression, try parseCallArguments()), line: line)
            } else {
                return expression
            }
        }
    }

    /// After `[`: an index, a tuple of indexes, or a slice `start:stop:step`.
    private mutating func parseSubscript(_ object: Expression, line: Int) throws(ChatTemplateError) -> Expression {
        var indexes: [Expression] = []
        var slice: (start: Expression?, stop: Expression?, step: Expression?)?
        while !isOp("]") {
            if !indexes.isEmpty || slice != nil { try expectOp(",") }
            guard slice == nil else { throw error("slices inside index tuples are not supported") }
            let start = isOp(":") ? nil : try parseExpression()
            guard skipOp(":") else {
                indexes.append(start!)
                continue
            }
            guard indexes.isEmpty else { throw error("slices inside index tuples are not supported") }
            let stop = isOp(":") || isOp("]") || isOp(",") ? nil : try parseExpression()
            let step = skipOp(":") && !isOp("]") && !isOp(",") ? try parseExpression() : nil
            slice = (start, stop, step)
        }
        try expectOp("]")
        if let slice {
            return Expression(kind: .slice(object, start: slice.start, stop: slice.stop, step: slice.step), line: line)
        }
        guard let first = indexes.first else { throw error("expected an index") }
        let index = indexes.count == 1 ? first : Expression(kind: .tuple(indexes), line: line)
        return Expression(kind: .item(object, index), line: line)
    }

    /// `(a, b, key=value)`, a trailing comma allowed.
    mutating func parseCallArguments() throws(ChatTemplateError) -> Arguments {
        try expectOp("(")
        var arguments = Arguments()
        var first = true
        while !skipOp(")") {
            if !first { try expectOp(",") }
            first = false
            if skipOp(")") { break }
            if isOp("*") || isOp("**") { throw error("'*' and '**' arguments are not supported") }
            if case .name(let name) = current.kind, tokens[index + 1].kind == .op("=") {
                advance()
                advance()
                arguments.keyword.append((name, try parseExpression()))
            } else {
                guard arguments.keyword.isEmpty else { throw error("positional argument follows keyword argument") }
                arguments.positional.append(try parseExpression())
            }
        }
        return arguments
    }

    private mutating func parseFiltersAndTests(_ expression: Expression) throws(ChatTemplateError) -> Expression {
        var expression = expression
        while true {
            if isOp("|") {
                for call in try parseFilterCalls(pipeConsumed: false) {
                    expression = Expression(kind: .filter(expression, call), line: call.line)
                }
            } else if isName("is") {
                expression = try parseTest(expression)
            } else if isOp("(") {
                expression = Expression(kind: .call(expression, try parseCallArguments()), line: current.line)
            } else {
                return expression
            }
        }
    }

    /// `is [not] name`, with arguments in parentheses or one bare argument (`divisibleby 3`).
    private mutating func parseTest(_ subject: Expression) throws(ChatTemplateError) -> Expression {
        advance()
        let negated = skipName("not")
        let token = current
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        guard Tests.names.contains(name) else { throw error("unknown test '\(name)'", at: token) }
        var arguments = Arguments()
        if isOp("(") {
            arguments = try parseCallArguments()
        } else if startsBareTestArgument {
            if isName("is") { throw error("tests cannot be chained with 'is'") }
            arguments.positional = [try parsePostfix(try parsePrimary())]
        }
        return Expression(kind: .test(subject, name: name, arguments: arguments, negated: negated), line: token.line)
    }

    private var startsBareTestArgument: Bool {
        switch current.kind {
        case .name(let name): !["else", "or", "and"].contains(name)
        case .string, .integer, .float, .op("["), .op("{"): true
        default: false
        }
    }
}
