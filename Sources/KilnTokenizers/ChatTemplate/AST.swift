// The parsed form of a template: statements (`Node`) and expressions (`Expr`), each
// carrying its source line so runtime errors can say where they happened.

/// An expression and the line it starts on.
struct Expr: Sendable {
    let line: Int
    let kind: Kind

    indirect enum Kind: Sendable {
        case literal(JinjaValue)
        case name(String)
        case list([Expr])
        case tuple([Expr])
        case dict([(key: Expr, value: Expr)])
        /// `a.b`: attribute first, then item (jinja2's `getattr`).
        case attribute(Expr, String)
        /// `a[b]`: item first, then attribute (jinja2's `getitem`).
        case item(Expr, Expr)
        case slice(Expr, start: Expr?, stop: Expr?, step: Expr?)
        case call(Expr, Arguments)
        case filter(Expr, FilterCall)
        case test(Expr, name: String, Arguments, negated: Bool)
        case not(Expr)
        case negate(Expr)
        case plus(Expr)
        case binary(BinaryOperator, Expr, Expr)
        case and(Expr, Expr)
        case or(Expr, Expr)
        /// A chain like `a < b <= c`: each operator compares its neighbours.
        case compare(Expr, [(op: CompareOperator, rhs: Expr)])
        case conditional(condition: Expr, then: Expr, otherwise: Expr?)
    }
}

/// Positional and keyword arguments of a call, filter or test.
struct Arguments: Sendable {
    var positional: [Expr] = []
    var keyword: [(name: String, value: Expr)] = []
}

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//"
    case modulo = "%", power = "**", concat = "~"
}

enum CompareOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">="
    case `in` = "in", notIn = "not in"
}

/// Where `set` and `for` store values.
enum AssignTarget: Sendable {
    case name(String)
    case tuple([String])
    /// `ns.attr`, only valid on a namespace.
    case attribute(String, String)
}

/// A statement of the template body.
indirect enum Node: Sendable {
    case text(String)
    case output(Expr)
    case `if`(branches: [(condition: Expr, body: [Node])], otherwise: [Node])
    case `for`(ForLoop)
    case set(AssignTarget, Expr, line: Int)
    case setBlock(AssignTarget, filters: [FilterCall], body: [Node], line: Int)
    case macro(Macro)
    /// `{% call(params) callee(args) %}body{% endcall %}`: the body is the callee's `caller()`.
    case callBlock(caller: Macro, call: Expr)
    case filterBlock(filters: [FilterCall], body: [Node])
    case `break`
    case `continue`
}

/// A filter with its arguments, as applied by `|`, a `filter` block or a block `set`.
struct FilterCall: Sendable {
    let name: String
    let arguments: Arguments
    let line: Int
}

struct ForLoop: Sendable {
    let target: AssignTarget
    let iterable: Expr
    let condition: Expr?
    let body: [Node]
    let otherwise: [Node]
    let line: Int
}
