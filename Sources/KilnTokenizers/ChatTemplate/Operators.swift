// Python's operators on template values: arithmetic keeping ints apart from floats,
// `~` concatenation, equality (1 == 1.0 == True), ordering and `in`.

extension Interpreter {
    func unaryOperation(_ op: String, _ value: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        switch value {
        case .undefined(let message): throw failure(message)
        case .int, .bool:
            let i = value.integer!
            if op == "+" { return .int(i) }
            guard i != Int.min else { throw failure("integer overflow") }
            return .int(-i)
        case .double(let d): return .double(op == "-" ? -d : d)
        default: throw failure("bad operand type for unary \(op): '\(value.typeName)'")
        }
    }

    func binaryOperation(_ op: String, _ left: JinjaValue, _ right: JinjaValue) throws(ChatTemplateError) -> JinjaValue {
        if op == "~" { return .string(string(of: left) + string(of: right)) }
        if case .undefined(let message) = left { throw failure(message) }
        if case .undefined(let message) = right { throw failure(message) }
        switch (op, left, right) {
        case ("+", .string(let a), .string(let b)): return .string(a + b)
        case ("+", .list(let a), .list(let b)): return .list(a + b)
        case ("+", .tuple(let a), .tuple(let b)): return .tuple(a + b)
        case ("*", .string(let s), _) where right.integer != nil: return .string(String(repeating: s, count: max(0, right.integer!)))
        case ("*", _, .string(let s)) where left.integer != nil: return .string(String(repeating: s, count: max(0, left.integer!)))
        case ("*", .list(let a), _) where right.integer != nil: return .list(repeated(a, right.integer!))
        case ("*", _, .list(let a)) where left.integer != nil: return .list(repeated(a, left.integer!))
        case ("*", .tuple(let a), _) where right.integer != nil: return .tuple(repeated(a, right.integer!))
        case ("%", .string(let format), _): return .string(try percentFormat(format, right))
        default: break
        }
        if let a = left.integer, let b = right.integer { return try integerOperation(op, a, b) }
        if let a = left.number, let b = right.number { return try floatOperation(op, a, b) }
        throw failure("unsupported operand type(s) for \(op): '\(left.typeName)' and '\(right.typeName)'")
    }

    private func repeated(_ items: [JinjaValue], _ count: Int) -> [JinjaValue] {
        Array([[JinjaValue]](repeating: items, count: max(0, count)).joined())
    }

    private func integerOperation(_ op: String, _ a: Int, _ b: Int) throws(ChatTemplateError) -> JinjaValue {
        func checked(_ result: (partialValue: Int, overflow: Bool)) throws(ChatTemplateError) -> JinjaValue {
            guard !result.overflow else { throw failure("integer overflow") }
            return .int(result.partialValue)
        }
        switch op {
        case "+": return try checked(a.addingReportingOverflow(b))
        case "-": return try checked(a.subtractingReportingOverflow(b))
        case "*": return try checked(a.multipliedReportingOverflow(by: b))
        case "/":
            guard b != 0 else { throw failure("division by zero") }
            return .double(Double(a) / Double(b))
        case "//", "%":
            guard b != 0 else { throw failure("integer division or modulo by zero") }
            var quotient = a / b
            var remainder = a % b
            if remainder != 0 && (remainder < 0) != (b < 0) {  // Python floors toward -infinity
                quotient -= 1
                remainder += b
            }
            return .int(op == "//" ? quotient : remainder)
        case "**":
            guard b >= 0 else { return try floatOperation(op, Double(a), Double(b)) }
            var result = 1, base = a, exponent = b
            while exponent > 0 {
                if exponent & 1 == 1 { result = try checked(result.multipliedReportingOverflow(by: base)).integer! }
                exponent >>= 1
                if exponent > 0 { base = try checked(base.multipliedReportingOverflow(by: base)).integer! }
            }
            return .int(result)
        default:
            throw failure("unsupported operator \(op)")
        }
    }

    private func floatOperation(_ op: String, _ a: Double, _ b: Double) throws(ChatTemplateError) -> JinjaValue {
        switch op {
        case "+": return .double(a + b)
        case "-": return .double(a - b)
        case "*": return .double(a * b)
        case "/":
            guard b != 0 else { throw failure("float division by zero") }
            return .double(a / b)
        case "//":
            guard b != 0 else { throw failure("float floor division by zero") }
            return .double((a / b).rounded(.down))
        case "%":
            guard b != 0 else { throw failure("float modulo") }
            var remainder = a.truncatingRemainder(dividingBy: b)
            if remainder != 0 && (remainder < 0) != (b < 0) { remainder += b }
            return .double(remainder)
        case "**":
            guard b == b.rounded(), abs(b) < 2_147_483_648 else { throw failure("fractional powers are not supported") }
            var result = 1.0
            for _ in 0..<Int(abs(b)) { result *= a }
            return .double(b < 0 ? 1 / result : result)
        default:
            throw failure("unsupported operator \(op)")
        }
    }

    /// `a op b` for the comparison operators, `in` and `not in`.
    func compare(_ op: String, _ left: JinjaValue, _ right: JinjaValue) throws(ChatTemplateError) -> Bool {
        switch op {
        case "==": return pythonEquals(left, right)
        case "!=": return !pythonEquals(left, right)
        case "in": return try contains(right, left)
        case "not in": return try !contains(right, left)
        default:
            let order = try pythonOrder(left, right, op)
            switch op {
            case "<": return order < 0
            case "<=": return order <= 0
            case ">": return order > 0
            default: return order >= 0
            }
        }
    }

    /// Python `needle in container`.
    func contains(_ container: JinjaValue, _ needle: JinjaValue) throws(ChatTemplateError) -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let n) = needle else {
                if case .undefined(let message) = needle { throw failure(message) }
                throw failure("'in <string>' requires string as left operand, not \(needle.typeName)")
            }
            return n.isEmpty || s.unicodeScalars.firstRange(of: n.unicodeScalars) != nil
        case .list(let items), .tuple(let items): return items.contains { pythonEquals($0, needle) }
        case .dict(let dict): return dict[needle] != nil
        case .undefined: return false
        default: throw failure("argument of type '\(container.typeName)' is not iterable")
        }
    }
}

/// Python `==`: numbers compare by value across int, float and bool; lists never equal tuples.
func pythonEquals(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
    switch (a, b) {
    case (.undefined, .undefined), (.none, .none): return true
    case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { pythonEquals($0, $1) }
    case (.dict(let x), .dict(let y)):
        return x.count == y.count && x.members.allSatisfy { member in y[member.key].map { pythonEquals($0, member.value) } ?? false }
    case (.namespace(let x), .namespace(let y)): return x == y
    case (.callable(let x), .callable(let y)): return x == y
    default:
        if let x = a.integer, let y = b.integer { return x == y }
        if let x = a.number, let y = b.number { return x == y }
        return false
    }
}

/// Python ordering (-1, 0, 1) of numbers, strings (by code point) and sequences.
func pythonOrder(_ a: JinjaValue, _ b: JinjaValue, _ op: String) throws(ChatTemplateError) -> Int {
    switch (a, b) {
    case (.string(let x), .string(let y)):
        for (p, q) in zip(x.unicodeScalars, y.unicodeScalars) where p != q { return p.value < q.value ? -1 : 1 }
        let (m, n) = (x.unicodeScalars.count, y.unicodeScalars.count)
        return m == n ? 0 : m < n ? -1 : 1
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
        for (p, q) in zip(x, y) where !pythonEquals(p, q) { return try pythonOrder(p, q, op) }
        return x.count == y.count ? 0 : x.count < y.count ? -1 : 1
    default:
        if let x = a.integer, let y = b.integer { return x == y ? 0 : x < y ? -1 : 1 }
        if let x = a.number, let y = b.number { return x == y ? 0 : x < y ? -1 : 1 }
        if case .undefined(let message) = a { throw failure(message) }
        if case .undefined(let message) = b { throw failure(message) }
        throw failure("'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
    }
}
