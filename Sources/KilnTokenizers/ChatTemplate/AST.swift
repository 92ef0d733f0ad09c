// The parsed template: statements (nodes) and expressions, each remembering its source line
// so runtime errors can say where they happened.

struct Expression: Sendable {
    indirect enum Kind: Sendable {
        case literal(JinjaValue)
        case name(String)
        case list([Expression])
        case tuple([Expression])
        case dict([(key: Expression, value: Expression)])
        case unary(String, Expression)
        case binary(String, Expression, Expression)
        case and(Expression, Expression)
        case or(Expression, Expression)
        case not(Expression)
        /// `a < b <= c`: each operator compares its neighbours, all must hold.
        case compare(Expression, [(op: String, operand: Expression)])
        case conditional(condition: Expression, then: Expression, otherwise: Expression?)
        case attribute(Expression, String)
        case item(Expression, Expression)
        case slice(Expression, start: Expression?, stop: Expression?, step: Expression?)
        case call(Expression, Arguments)
        case filter(Expression, FilterCall)
        case test(Expression, name: String, arguments: Arguments, negated: Bool)
    }

    let kind: Kind
    let line: Int
}

struct Arguments: Sendable {
    var positional: [Expression] = []
    var keyword: [(name: String, value: Expression)] = []
}

/// `| name(args)`, in an expression or a `{% filter %}` block.
struct FilterCall: Sendable {
    let name: String
    let arguments: Arguments
    let line: Int
}

/// The left side of `set` or a `for` loop's variables.
indirect enum AssignTarget: Sendable {
    case name(String)
    case tuple([AssignTarget])
    /// `ns.attribute`, only for namespaces.
    case attribute(object: String, name: String)
}

struct ForLoop: Sendable {
    let target: AssignTarget
    let iterable: Expression
    let filter: Expression?
    let body: [Node]
    let otherwise: [Node]
    let line: Int
}

struct Macro: Sendable {
    let name: String
    let parameters: [(name: String, defaultValue: Expression?)]
    let body: [Node]
    /// Whether the body reads `varargs` / `kwargs`; only then may a call pass extra arguments.
    let takesVarargs: Bool
    let takesKwargs: Bool
}

indirect enum Node: Sendable {
    case text(String)
    case output(Expression)
    case forLoop(ForLoop)
    case conditional(branches: [(condition: Expression, body: [Node])], otherwise: [Node])
    case set(AssignTarget, Expression, line: Int)
    case setBlock(AssignTarget, body: [Node], filters: [FilterCall], line: Int)
    case macro(Macro)
    case filterBlock([FilterCall], body: [Node])
    case with(assignments: [(AssignTarget, Expression)], body: [Node], line: Int)
    case loopControl(isBreak: Bool, line: Int)
}
