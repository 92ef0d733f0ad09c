// `kiln inspect`: what a model folder holds, and the graph Kiln records for it.

import ArgumentParser
import KilnModels

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a model and print its recorded graph.")

    @OptionGroup var modelOptions: ModelOptions
    @Flag(help: "Print the graph the model records, one op per line.")
    var graph = false
    @Flag(name: .customLong("all-logits"), help: "With --graph: record logits for every token instead of the last of each sequence.")
    var allLogits = false

    func run() throws {
        let loaded = try HuggingFaceModel.load(directory: modelOptions.model)
        let s = loaded.spec
        let parameterCount = loaded.model.parameters().reduce(0) { $0 + $1.shape.reduce(1, *) }
        print("""
            model: \(s.family.architecture) (\(s.family.rawValue))
            layers: \(s.numLayers), hidden: \(s.hiddenSize), intermediate: \(s.intermediateSize)
            heads: \(s.numHeads), kv heads: \(s.numKVHeads), head dim: \(s.headDim)
            vocab: \(s.vocabularySize), context: \(s.maxPositionEmbeddings), tied embeddings: \(s.tiedEmbeddings)
            rope: \(s.rotary)
            parameters: \(parameterCount) in \(loaded.checkpoint.files.count) file(s)
            """)
        if graph {
            let recorded = loaded.model.recordGraph(logits: allLogits ? .allTokens : .lastTokens)
            print("graph: \(recorded.nodes.count) nodes")
            print(recorded)
        }
    }
}
