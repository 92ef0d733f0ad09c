// What every causal language model offers the rest of Kiln, whatever its family.

import KilnGraph

/// Which positions a recorded graph produces logits for.
public enum LogitsSelection: Sendable {
    /// The last token of each sequence: what generation needs, `[numSeqs, vocab]`.
    case lastTokens
    /// Every token of the step, `[numTokens, vocab]` (prompt scoring, parity checks).
    case allTokens
}

/// A decoder-only language model written with the Model Definition API.
public protocol CausalLM: Module {
    var vocabularySize: Int { get }
    var numLayers: Int { get }
    var numKVHeads: Int { get }
    var headDim: Int { get }
    var maxPositionEmbeddings: Int { get }

    /// Records the model's forward pass on symbolic step inputs.
    func forward(tokenIds: Tensor, positions: Tensor, logits: LogitsSelection) -> Tensor
}

extension CausalLM {
    /// A new graph holding the forward pass, its logits marked as the output.
    public func recordGraph(logits: LogitsSelection = .lastTokens) -> Graph {
        let graph = Graph()
        let output = forward(tokenIds: graph.input(.tokenIds), positions: graph.input(.positions), logits: logits)
        graph.markOutput(output)
        return graph
    }
}
