// `kiln logits`: the logits at every prompt position, saved as safetensors.

import ArgumentParser
import Kiln
import KilnCheckpoint

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the logits at every prompt position to a safetensors file.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("prompt-ids"), help: "Prompt token ids, comma separated (e.g. 1,2,3).")
    var promptIds: String
    @Option(help: "Output file; it holds tensor 'logits' [prompt length, vocab] F32.")
    var out: String

    func run() throws {
        let ids = try parseTokenIds(promptIds, option: "--prompt-ids")
        let llm = try LLM(model: modelOptions.model, options: BuildOptions(maxSequenceLength: ids.count))
        let logits = try llm.promptLogits(ids)
        try SafetensorsWriter.write([(name: "logits", tensor: logits)], to: out)
        print("wrote logits \(logits.shape) to \(out)")
    }
}
