// Errors of the CPU backend: a graph it cannot run, or a step that does not fit the graph.

public enum CPUBackendError: Error, CustomStringConvertible, Equatable {
    case unboundWeight(name: String)
    case weightShapeMismatch(name: String, expected: [Int], actual: [Int])
    case unsupportedOp(String)
    case invalidStep(String)
    case tokenOutOfRange(token: Int32, vocabularySize: Int)

    public var description: String {
        switch self {
        case .unboundWeight(let name): "weight '\(name)' has no value; bind the model's parameters before building the backend"
        case .weightShapeMismatch(let name, let expected, let actual): "weight '\(name)' is \(actual), the graph needs \(expected)"
        case .unsupportedOp(let op): "the CPU backend cannot run '\(op)'"
        case .invalidStep(let reason): "invalid step: \(reason)"
        case .tokenOutOfRange(let token, let vocab): "token id \(token) is outside the vocabulary (0..<\(vocab))"
        }
    }
}
