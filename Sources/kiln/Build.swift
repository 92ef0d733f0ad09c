// `kiln build` and `kiln refit`: a model built once into an engine folder that loads
// without rebuilding, and new weights swapped into it.

import ArgumentParser
import FoundationEssentials
import Kiln
import KilnCompiler
import KilnModels
import KilnTensor

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Build a model into an engine folder and print the build report.")

    @Option(help: "A Hugging Face folder or a .gguf file.")
    var model: String
    @Option(help: "The engine folder to write.")
    var output: String
    @Option(help: "The backend the engine runs on (cpu).")
    var backend = "cpu"
    @Option(name: .customLong("max-seq-len"), help: "Tokens the KV cache holds per run (default: the model's context, at most 8192).")
    var maxSequenceLength: Int?
    @Option(name: .customLong("tokens-per-block"), help: "Tokens per KV-cache block.")
    var tokensPerBlock = 32
    @Option(help: "Store the weights as auto (as the checkpoint has them), f32, bf16 or f16.")
    var dtype = "auto"
    @Option(name: .customLong("no-fuse"), help: "Fusion rules to leave out, comma separated: \(fusionRules.map(\.name).joined(separator: ", ")) (default: \(cpuDisabledFusions.sorted().joined(separator: ", ")); an empty list runs them all).")
    var noFuse: String?

    func validate() throws {
        guard ["auto", "f32", "bf16", "f16"].contains(dtype) else { throw ValidationError("--dtype \(dtype): expected auto, f32, bf16 or f16") }
        guard backend == "cpu" else { throw ValidationError("--backend \(backend): only the cpu backend exists so far") }
        guard tokensPerBlock > 0, maxSequenceLength.map({ $0 > 0 }) ?? true else { throw ValidationError("sizes must be positive") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        func stage<T>(_ index: Int, _ title: String, _ work: () throws -> T) throws -> T {
            printError("[\(index)/2] \(title) …")
            let begin = clock.now
            defer { printError("[\(index)/2] \(title): \(Int((clock.now - begin).inSeconds * 1000)) ms") }
            return try work()
        }
        let llm = try stage(1, "loading and building \(model)") {
            try LLM(model: model, maxSequenceLength: maxSequenceLength, tokensPerBlock: tokensPerBlock,
                    disabledFusions: noFuse.map { Set($0.split(separator: ",").map(String.init)) },
                    weightType: dtype == "auto" ? nil : DType(rawValue: dtype.uppercased()))
        }
        try stage(2, "writing \(output)") { try llm.save(engine: output) }
        print("build: \(llm.buildReport)")
        print("engine written to \(output) in \(Int((clock.now - start).inSeconds * 1000)) ms")
    }
}

struct Refit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replace an engine's weights with those of a Hugging Face folder of the same shapes.")

    @Option(help: "The engine folder.")
    var engine: String
    @Option(help: "A Hugging Face folder with the new weights (same names, shapes and dtypes).")
    var weights: String

    func run() throws {
        let model = try HuggingFaceModel.load(directory: weights)
        let tensors = model.model.boundWeights()
        try Engine.refit(engine, with: tensors)
        print("refitted \(engine) with \(tensors.count) tensors from \(weights)")
    }
}
