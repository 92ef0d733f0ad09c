// Python's arithmetic and comparison operators on template values: int stays int where
// Python keeps it (`+ - * // % **`), `/` is true division, strings and lists concatenate
// and repeat, `~` joins the `str()` of both sides.

extension Interpreter {
    func binary(_ op: BinaryOperator, _ lhs: JinjaValue, _ rhs: JinjaValue, line: Int) throws(ChatTemplateError) -> JinjaValue {
        if op == .concat { return .string(lhs.pythonString + rhs.pythonString) }
        for operand in [lhs, rhs] {
            if case .undefined(let message) = operand { throw .runtime(line: line, message: "UndefinedError: \(message)") }
        }
        func unsupported() -> ChatTemplateError {
            .runtime(line: line, message: "TypeError: unsupported operand type(s) for \(op.rawValue): '\(lhs.typeName)' and '\(rhs.typeName)'")
        }
        func overflow() -> ChatTemplateError { .runtime(line: line, message: "integer overflow in \(op.rawValue)") }
        switch (op, lhs, rhs) {
        case (.add, .string(let a), .string(let b)): return .string(a + b)
        case (.add, .array(let a), .array(let b)): return .array(a + b)
        case (.add, .tuple(let a), .tuple(let b)): return .tuple(a + b)
        case (.multiply, .string(let s), _), (.multiply, _, .string(let s)):
            let count = lhs.integer ?? rhs.integer
            guard let count, lhs.integer == nil || rhs.integer == nil else { throw unsupported() }
            return .string(String(repeating: s, count: max(0, count)))
        case (.multiply, .array(let a), _), (.multiply, _, .array(let a)), (.multiply, .tuple(let a), _), (.multiply, _, .tuple(let a)):
            guard let count = lhs.integer ?? rhs.integer else { throw unsupported() }
            let repeated = Array(repeatElement(a, count: max(0, count)).joined())
            if case .tuple = lhs { return .tuple(repeated) }
            if case .tuple = rhs { return .tuple(repeated) }
            return .array(repeated)
        default:
            break
        }
        if let a = lhs.integer, let b = rhs.integer {
            switch op {
            case .add:
                let (r, o) = a.addingReportingOverflow(b)
                if o { throw overflow() }
                return .int(r)
            case .subtract:
                let (r, o) = a.subtractingReportingOverflow(b)
                if o { throw overflow() }
                return .int(r)
            case .multiply:
                let (r, o) = a.multipliedReportingOverflow(by: b)
                if o { throw overflow() }
                return .int(r)
            case .divide:
                guard b != 0 else { throw .runtime(line: line, message: "ZeroDivisionError: division by zero") }
                return .double(Double(a) / Double(b))
            case .floorDivide, .modulo:
                guard b != 0 else { throw .runtime(line: line, message: "ZeroDivisionError: integer division or modulo by zero") }
                var quotient = a / b
                var remainder = a % b
                if remainder != 0 && (remainder < 0) != (b < 0) { quotient -= 1; remainder += b }
                return .int(op == .floorDivide ? quotient : remainder)
            case .power:
                guard b >= 0 else { return .double(power(Double(a), b)) }
                var result = 1
                for _ in 0..<b {
                    let (r, o) = result.multipliedReportingOverflow(by: a)
                    if o { throw overflow() }
                    result = r
                }
                return .int(result)
            case .concat:
                break
            }
        }
        guard let a = lhs.number, let b = rhs.number else { throw unsupported() }
        switch op {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw .runtime(line: line, message: "ZeroDivisionError: float division by zero") }
            return .double(a / b)
        case .floorDivide, .modulo:
            guard b != 0 else { throw .runtime(line: line, message: "ZeroDivisionError: float modulo") }
            let quotient = (a / b).rounded(.down)
            return .double(op == .floorDivide ? quotient : a - quotient * b)
        case .power:
            guard let exponent = rhs.integer else {
                throw .runtime(line: line, message: "fractional powers are not supported")
            }
            return .double(power(a, exponent))
        case .concat:
            throw unsupported()
        }
    }

    private func power(_ base: Double, _ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<exponent.magnitude { result *= base }
        return exponent < 0 ? 1 / result : result
    }

    func negate(_ value: JinjaValue, line: Int) throws(ChatTemplateError) -> JinjaValue {
        switch value {
        case .int(let i): return .int(-i)
        case .bool(let b): return .int(b ? -1 : 0)
        case .double(let d): return .double(-d)
        case .undefined(let message): throw .runtime(line: line, message: "UndefinedError: \(message)")
        default: throw .runtime(line: line, message: "TypeError: bad operand type for unary -: '\(value.typeName)'")
        }
    }

    func compare(_ op: CompareOperator, _ lhs: JinjaValue, _ rhs: JinjaValue, line: Int) throws(ChatTemplateError) -> Bool {
        switch op {
        case .equal: return lhs.pythonEquals(rhs)
        case .notEqual: return !lhs.pythonEquals(rhs)
        case .in: return try contains(rhs, lhs, line: line)
        case .notIn: return !(try contains(rhs, lhs, line: line))
        default:
            guard let order = lhs.pythonCompare(rhs) else {
                throw .runtime(line: line, message: "TypeError: '\(op.rawValue)' not supported between instances of '\(lhs.typeName)' and '\(rhs.typeName)'")
            }
            switch op {
            case .less: return order < 0
            case .lessEqual: return order <= 0
            case .greater: return order > 0
            default: return order >= 0
            }
        }
    }

    /// Python `element in container`.
    func contains(_ container: JinjaValue, _ element: JinjaValue, line: Int) throws(ChatTemplateError) -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let needle) = element else {
                throw .runtime(line: line, message: "TypeError: 'in <string>' requires string as left operand, not \(element.typeName)")
            }
            return needle.isEmpty || s.unicodeScalars.firstRange(of: needle.unicodeScalars) != nil
        case .array(let elements), .tuple(let elements): return elements.contains { $0.pythonEquals(element) }
        case .object(let object):
            guard case .string(let key) = element else { return false }
            return object[key] != nil
        case .namespace(let namespace):
            guard case .string(let key) = element else { return false }
            return namespace.attributes[key] != nil
        case .undefined: return false
        default: throw .runtime(line: line, message: "TypeError: argument of type '\(container.typeName)' is not iterable")
        }
    }
}
