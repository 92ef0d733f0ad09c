// Sizes in a recorded graph: fixed, or one of the two sizes that change every step.

/// One dimension of a symbolic tensor.
///
/// An engine serves any batch within its limits, so a graph is recorded once with two
/// symbolic sizes that are bound at every step: the number of tokens processed in the step
/// (prefill and decode tokens of all sequences together) and the number of sequences.
public enum Dim: Hashable, Sendable, Codable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    case fixed(Int)
    case numTokens
    case numSeqs

    public init(integerLiteral value: Int) { self = .fixed(value) }

    /// The fixed size, or `nil` for a symbolic one.
    public var fixedSize: Int? {
        if case .fixed(let n) = self { return n }
        return nil
    }

    /// The concrete size for a step with `numTokens` tokens in `numSeqs` sequences.
    public func resolved(numTokens: Int, numSeqs: Int) -> Int {
        switch self {
        case .fixed(let n): n
        case .numTokens: numTokens
        case .numSeqs: numSeqs
        }
    }

    public var description: String {
        switch self {
        case .fixed(let n): "\(n)"
        case .numTokens: "numTokens"
        case .numSeqs: "numSeqs"
        }
    }
}

extension Array where Element == Dim {
    /// `[numTokens, 64]`-style text for graph listings and errors.
    public var shapeDescription: String { "[" + map(\.description).joined(separator: ", ") + "]" }

    /// The product of the fixed dimensions (symbolic ones count as 1).
    var fixedProduct: Int { reduce(1) { $0 * ($1.fixedSize ?? 1) } }

    /// The symbolic dimensions, in order.
    var symbolicDims: [Dim] { filter { $0.fixedSize == nil } }
}
