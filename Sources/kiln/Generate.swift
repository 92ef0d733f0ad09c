// `kiln generate`: tokens from a prompt of token ids.

import ArgumentParser
import Kiln
import KilnRuntime

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate tokens from a prompt of token ids.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @Option(name: .customLong("max-tokens"), help: "Tokens to generate at most.")
    var maxTokens = 32
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Sample from the k most likely tokens (0: all).")
    var topK = 0
    @Option(name: .customLong("top-p"), help: "Sample from the smallest set of tokens whose probability reaches p.")
    var topP: Float = 1
    @Option(help: "Random seed; the same seed gives the same tokens.")
    var seed: UInt64?
    @Flag(name: .customLong("ignore-eos"), help: "Keep generating after an end-of-sequence token.")
    var ignoreEOS = false
    @Flag(help: "Print one JSON object with the ids and timings.")
    var json = false

    func run() throws {
        let ids = try prompt.ids()
        let params = SamplingParams(temperature: temperature, topK: topK, topP: topP, seed: seed,
                                    maxTokens: maxTokens, ignoreEOS: ignoreEOS)
        try params.validate()
        let llm = try LLM(modelDirectory: modelOptions.model)
        let result = try llm.generate(prompt: ids, params)
        if json {
            let prefill = result.prefillTime.components
            try printJSONObject([
                "prompt_ids": result.promptIds,
                "output_ids": result.outputIds,
                "finish_reason": result.finishReason.rawValue,
                "prefill_ms": (Double(prefill.seconds) * 1e3 + Double(prefill.attoseconds) * 1e-15).rounded(toPlaces: 3),
                "decode_tok_s": result.decodeTokensPerSecond.rounded(toPlaces: 2),
            ])
        } else {
            print(result.outputIds.map(String.init).joined(separator: " "))
        }
    }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
