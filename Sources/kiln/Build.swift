// `kiln build` and `kiln refit`: a model built once into an engine folder that loads
// without rebuilding, and new weights swapped into it.

import ArgumentParser
import Kiln

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Build a model into an engine folder and print the build report.")

    @Option(help: "A Hugging Face folder or a .gguf file.")
    var model: String
    @Option(help: "The engine folder to write.")
    var output: String
    @OptionGroup var flags: BuildFlags

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let llm = try LLM(model: model, options: flags.options, progress: buildProgressBar())
        try llm.save(engine: output)
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
        let count = try LLM.refit(engine: engine, weights: weights)
        print("refitted \(engine) with \(count) tensors from \(weights)")
    }
}
