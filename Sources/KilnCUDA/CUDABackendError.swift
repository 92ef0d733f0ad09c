// Errors of the CUDA backend: a graph it cannot run, or a step that does not fit it.

public enum CUDABackendError: Error, CustomStringConvertible, Equatable {
    case unboundWeight(name: String)
    case weightShapeMismatch(name: String, expected: [Int], actual: [Int])
    case unsupportedOp(String)
    case invalidStep(String)
    case tokenOutOfRange(token: Int32, vocabularySize: Int)
    /// The KV pool has no room for even one sequence of the engine's length.
    case kvCacheTooSmall(blocks: Int, needed: Int, freeBytes: Int)

    public var description: String {
        switch self {
        case .unboundWeight(let name): "weight '\(name)' has no value; bind the model's parameters before building the backend"
        case .weightShapeMismatch(let name, let expected, let actual): "weight '\(name)' is \(actual), the graph needs \(expected)"
        case .unsupportedOp(let op): "the CUDA backend cannot run '\(op)'"
        case .invalidStep(let reason): "invalid step: \(reason)"
        case .tokenOutOfRange(let token, let vocab): "token id \(token) is outside the vocabulary (0..<\(vocab))"
        case .kvCacheTooSmall(let blocks, let needed, let free):
            "the KV cache gets \(blocks) blocks but one sequence of the engine's length needs \(needed) "
                + "(\((Double(free) / 1_073_741_824 * 100).rounded() / 100) GiB free after weights and activations); "
                + "raise --kv-cache-fraction, lower --max-seq-len, or use a GPU with more memory"
        }
    }
}
