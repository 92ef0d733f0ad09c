// `kiln generate`: tokens (and text) from a prompt given as ids, text, or a conversation.

import ArgumentParser
import FoundationEssentials
import Kiln
import KilnCompiler
import KilnRuntime
import KilnTokenizers

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate from a prompt of token ids, text, or a chat conversation.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("prompt-ids"), help: "Prompt token ids, comma separated (e.g. 1,2,3).")
    var promptIds: String?
    @Option(help: "Prompt text, encoded with the model's tokenizer.")
    var prompt: String?
    @Flag(help: "With --prompt: send it as a user message through the model's chat template.")
    var chat = false
    @Option(help: "A JSON file holding a whole conversation (messages array), rendered with the chat template.")
    var messages: String?
    @Option(name: .customLong("max-tokens"), help: "Tokens to generate at most.")
    var maxTokens = 32
    @OptionGroup var sampling: SamplingOptions
    @Flag(name: .customLong("ignore-eos"), help: "Keep generating after an end-of-sequence token.")
    var ignoreEOS = false
    @Flag(help: "Print one JSON object with the ids, text and timings.")
    var json = false
    @OptionGroup(title: "Build options (for --model)") var build: BuildFlags

    func validate() throws {
        guard [promptIds != nil, prompt != nil, messages != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --prompt-ids, --prompt and --messages")
        }
        if chat && prompt == nil { throw ValidationError("--chat goes with --prompt") }
    }

    func run() throws {
        let params = try sampling.params(maxTokens: maxTokens, ignoreEOS: ignoreEOS)
        let llm = try LLM(model: modelOptions.model, options: build.options, progress: buildProgressBar(offTerminal: false))
        let ids = try promptTokens(llm)
        // text output streams as tokens arrive; ids-only prompts print ids
        var detokenizer = promptIds == nil && !json ? try llm.requireTokenizer().makeStreamingDetokenizer(skipSpecialTokens: true) : nil
        let result = try llm.generate(prompt: ids, params) { token in
            if detokenizer != nil { writeStandardOutput((try? detokenizer!.append(token)) ?? "") }
            return true
        }
        if json {
            var fields: [(String, any Encodable)] = [("prompt_ids", result.promptIds), ("output_ids", result.outputIds)]
            if let tokenizer = llm.tokenizer { fields.append(("text", try tokenizer.decode(result.outputIds, skipSpecialTokens: true))) }
            fields += [
                ("finish_reason", result.finishReason.rawValue),
                ("prefill_ms", (result.prefillTime.inSeconds * 1e3).rounded(toPlaces: 3)),
                ("decode_tok_s", result.decodeTokensPerSecond.rounded(toPlaces: 2)),
                ("activation_bytes", llm.activationBytes),
            ]
            try printJSONObject(fields)
        } else if var detokenizer {
            writeStandardOutput(detokenizer.finish() + "\n")
        } else {
            print(result.outputIds.map(String.init).joined(separator: " "))
        }
    }

    private func promptTokens(_ llm: LLM) throws -> [Int32] {
        if let promptIds { return try parseTokenIds(promptIds, option: "--prompt-ids") }
        let tokenizer = try llm.requireTokenizer()
        if let prompt, !chat { return tokenizer.encode(prompt) }
        let conversation = try messages.map { try readJSONArray($0, option: "--messages") }
            ?? [.object(JSONObject([("role", .string("user")), ("content", .string(prompt!))]))]
        // the template writes the special tokens itself, as in transformers' apply_chat_template
        let text = try tokenizer.applyChatTemplate(messages: conversation, addGenerationPrompt: true)
        return tokenizer.encode(text, addSpecialTokens: false)
    }
}
