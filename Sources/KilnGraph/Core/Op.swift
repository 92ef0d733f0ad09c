// The operations a graph is made of. Each is defined by its math, independent of how a
// backend implements it.

/// A pointwise nonlinearity applied by `activation(_:_:)`.
public enum Activation: String, Hashable, Sendable, Codable {
    case relu
    case sigmoid
}

/// Names of the per-step inputs a graph reads.
public enum StepInputName: String, Hashable, Sendable, Codable {
    /// Token ids `[numTokens]`, i32.
    case tokenIds
    /// Absolute position of each token in its sequence `[numTokens]`, i32.
    case positions
}

/// A graph operation. Inputs are listed in the node, in the order documented per case.
public enum Op: Hashable, Sendable, Codable {
    /// A per-step input (no operands).
    case input(StepInputName)
    /// A model weight, by its parameter name (no operands).
    case weight(String)
    /// `a · b`, or `a · bᵀ` when `transposeB` (weights are stored `[out, in]`). Operands: a, b.
    case matmul(transposeB: Bool)
    /// Elementwise sum; b may also be a vector broadcast over a's last dimension.
    case add
    /// Elementwise product, broadcasting like `add`.
    case mul
    case activation(Activation)
    /// `x / sqrt(mean(x²) + eps) · weight` over the last dimension. Operands: x, weight.
    case rmsNorm(eps: Float)
    /// Rows of a table picked by ids. Operands: table `[vocab, d]`, ids `[n]`.
    case embedding
    /// Rotary position embedding over heads of `headDim`. Operands: x `[n, heads·headDim]`, positions `[n]`.
    case rope(RotaryEmbedding)
    /// A hand-written kernel (attention, dequantize, …), by its registered name; its
    /// operands are documented with the plugin.
    case plugin(PluginCall)
    /// The last token's row of each sequence: `[numTokens, d]` → `[numSeqs, d]`.
    case gatherLastTokens
    /// Same elements, new shape (the node's output shape): a view, not a copy.
    case reshape
    /// Entry `index` of the leading axis, without that axis: a view, not a copy.
    case select(Int)
    /// `length` entries of `axis` starting at `start`.
    case slice(axis: Int, start: Int, length: Int)
    /// Operands joined along `axis`.
    case concat(axis: Int)

    // Ops the builder creates (KilnCompiler's fusion rules); model code never records them.

    /// A chain of elementwise ops computed in one pass over memory. Operands: the chain's
    /// inputs, each either full size or a vector broadcast over the last dimension.
    case fusedElementwise(ElementwiseProgram)
    /// `a · bᵀ` (or `a · b`) with a bias vector added and an activation applied as each output
    /// row is written. Operands: a, b, then the bias when `bias`.
    case matmulEpilogue(transposeB: Bool, bias: Bool, activation: Activation?)
    /// The residual stream's add and the RMSNorm that reads it, in one pass: operands x,
    /// residual, weight; the result `[2, …x]` holds `x + residual` at entry 0 and
    /// `rmsNorm(x + residual) · weight` at entry 1 (read through `select`).
    case residualRMSNorm(eps: Float)
}

/// The body of a fused elementwise kernel: steps in order, each reading inputs or earlier
/// steps; the last step is the result.
public struct ElementwiseProgram: Hashable, Sendable, Codable, CustomStringConvertible {
    public enum Step: Hashable, Sendable, Codable {
        /// Operand `k` of the fused node.
        case input(Int)
        case add(Int, Int)
        case mul(Int, Int)
        case activation(Activation, Int)
    }

    public var steps: [Step]

    public init(steps: [Step]) { self.steps = steps }

    public var description: String {
        func text(_ i: Int) -> String {
            switch steps[i] {
            case .input(let k): "$\(k)"
            case .add(let a, let b): "(\(text(a)) + \(text(b)))"
            case .mul(let a, let b): "\(text(a)) * \(text(b))"
            case .activation(let kind, let a): "\(kind.rawValue)(\(text(a)))"
            }
        }
        return text(steps.count - 1)
    }
}

extension Op: CustomStringConvertible {
    public var description: String {
        switch self {
        case .input(let name): "input \(name.rawValue)"
        case .weight(let name): "weight \(name)"
        case .matmul(let transposeB): transposeB ? "matmul_nt" : "matmul"
        case .add: "add"
        case .mul: "mul"
        case .activation(let kind): "activation.\(kind.rawValue)"
        case .rmsNorm(let eps): "rms_norm(eps: \(eps))"
        case .embedding: "embedding"
        case .rope(let rope): "rope(\(rope))"
        case .plugin(let call): "plugin.\(call)"
        case .gatherLastTokens: "gather_last_tokens"
        case .reshape: "reshape"
        case .select(let index): "select(\(index))"
        case .slice(let axis, let start, let length): "slice(axis: \(axis), start: \(start), length: \(length))"
        case .concat(let axis): "concat(axis: \(axis))"
        case .fusedElementwise(let program): "fused[\(program)]"
        case .matmulEpilogue(let transposeB, let bias, let activation):
            (transposeB ? "matmul_nt" : "matmul") + (bias ? "+bias" : "") + (activation.map { "+\($0.rawValue)" } ?? "")
        case .residualRMSNorm(let eps): "add+rms_norm(eps: \(eps))"
        }
    }
}
