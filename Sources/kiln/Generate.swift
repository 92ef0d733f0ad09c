// `kiln generate`: tokens (and text) from a prompt given as ids, text, or a conversation; or
// from a file of many prompts, all run through the executor together.

import ArgumentParser
import FoundationEssentials
import Kiln
import KilnCompiler
import KilnRuntime
import KilnTokenizers

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate from a prompt of token ids, text, or a chat conversation; or from a file of many prompts.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("prompt-ids"), help: "Prompt token ids, comma separated (e.g. 1,2,3).")
    var promptIds: String?
    @Option(help: "Prompt text, encoded with the model's tokenizer.")
    var prompt: String?
    @Flag(help: "With --prompt: send it as a user message through the model's chat template.")
    var chat = false
    @Option(help: "A JSON file holding a whole conversation (messages array), rendered with the chat template.")
    var messages: String?
    @Option(name: .customLong("prompts-file"), help: ArgumentHelp(
        "A JSON-lines file of requests, batched together: one object a line with 'prompt' (and 'chat') or 'prompt_ids', "
            + "and optionally max_tokens, temperature, top_k, top_p, seed, ignore_eos, stop, n, beam_width, arrival_ms "
            + "(the options are the defaults).",
        valueName: "file.jsonl"))
    var promptsFile: String?
    @Option(name: .customLong("max-tokens"), help: "Tokens to generate at most.")
    var maxTokens = 32
    @OptionGroup var sampling: SamplingOptions
    @Flag(name: .customLong("ignore-eos"), help: "Keep generating after an end-of-sequence token.")
    var ignoreEOS = false
    @Option(help: "Independent completions of the prompt, each with its own random stream.")
    var n = 1
    @Option(help: "With --json: the log-probability of each chosen token and of this many most likely ones (0…20).")
    var logprobs: Int?
    @OptionGroup(title: "Beam search") var beams: BeamOptions
    @Flag(help: "Print one JSON object with the ids, text and timings.")
    var json = false
    @OptionGroup(title: "Build options (for --model)") var build: BuildFlags

    func validate() throws {
        guard [promptIds != nil, prompt != nil, messages != nil, promptsFile != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --prompt-ids, --prompt, --messages and --prompts-file")
        }
        if chat && prompt == nil { throw ValidationError("--chat goes with --prompt") }
    }

    func run() async throws {
        let params = try sampling.params(maxTokens: maxTokens, ignoreEOS: ignoreEOS, n: n, logprobs: logprobs, beams: beams)
        // a bad line fails before the model loads
        let requests = try promptsFile.map { try readPromptsFile($0, defaults: params) }
        let llm = try await LLM(model: modelOptions.model, options: build.options, progress: buildProgressBar(offTerminal: false))
        if let requests { return try await runPromptsFile(requests, llm: llm) }
        let ids = try promptTokens(llm)
        // text output (a text prompt means a tokenizer) streams as tokens arrive, a line per
        // completion; ids-only prompts print ids
        let streamsText = promptIds == nil && !json
        var completion = 0
        let result = try llm.generate(prompt: ids, params) { token in
            guard streamsText else { return true }
            if token.completion != completion {
                writeStandardOutput("\n")
                completion = token.completion
            }
            writeStandardOutput(token.text)
            return true
        }
        if json {
            try printJSONObject(jsonFields(result, llm: llm))
        } else if streamsText {
            writeStandardOutput("\n")
        } else {
            for completion in result.completions { print(completion.outputIds.map(String.init).joined(separator: " ")) }
        }
    }

    /// The `--json` object: one completion's fields at the top level, or a `completions` array
    /// (several completions, or the beams of a beam search).
    private func jsonFields(_ result: GenerationResult, llm: LLM) -> [(String, any Encodable)] {
        func fields(_ completion: CompletionOutput) -> [(String, any Encodable)] {
            var fields: [(String, any Encodable)] = [("output_ids", completion.outputIds)]
            if let text = completion.text { fields.append(("text", text)) }
            fields.append(("finish_reason", completion.finishReason.rawValue))
            if let logprobs = completion.logprobs { fields.append(("logprobs", logprobs.map(JSONTokenLogprobs.init))) }
            if let score = completion.score { fields.append(("score", score)) }
            return fields
        }
        var object: [(String, any Encodable)] = [("prompt_ids", result.promptIds)]
        // a beam search lists its beams (best first, with scores) even when it returns one
        let listed = result.completions.count > 1 || result.completions[0].score != nil
        object += listed ? [("completions", result.completions.map { JSONObjectFields(fields($0)) })] : fields(result.completions[0])
        return object + [
            ("prefill_ms", (result.prefillTime.inSeconds * 1e3).rounded(toPlaces: 3)),
            ("decode_tok_s", result.decodeTokensPerSecond.rounded(toPlaces: 2)),
            ("activation_bytes", llm.activationBytes),
        ]
    }

    private func promptTokens(_ llm: LLM) throws -> [Int32] {
        if let promptIds { return try parseTokenIds(promptIds, option: "--prompt-ids") }
        let tokenizer = try llm.requireTokenizer()
        if let prompt, !chat { return tokenizer.encode(prompt) }
        let conversation = try messages.map { try readJSONArray($0, option: "--messages") } ?? [userMessage(prompt!)]
        return try chatPromptTokens(conversation, tokenizer: tokenizer)
    }

    /// Submits every request at its arrival time, all batched by the executor, and prints
    /// the results in the file's order.
    private func runPromptsFile(_ requests: [PromptsFileRequest], llm: LLM) async throws {
        let prompts = try requests.map { request in
            switch request.prompt {
            case .ids(let ids): return ids
            case .text(let text, chat: false): return try llm.requireTokenizer().encode(text)
            case .text(let text, chat: true): return try chatPromptTokens([userMessage(text)], tokenizer: llm.requireTokenizer())
            }
        }
        let executor = llm.executor, clock = ContinuousClock(), start = clock.now
        let results = await withTaskGroup(of: (Int, Result<GenerationResult, any Error>).self) { group in
            for (index, request) in requests.enumerated() {
                group.addTask {
                    do {
                        try await clock.sleep(until: start + request.arrival)
                        return (index, .success(try await executor.submit(prompt: prompts[index], request.params).result()))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results = [Result<GenerationResult, any Error>?](repeating: nil, count: requests.count)
            for await (index, result) in group { results[index] = result }
            return results.map { $0! }
        }
        var failures = 0
        for (request, outcome) in zip(requests, results) {
            switch outcome {
            case .success(let result) where json:
                try printJSONObject(jsonFields(result, llm: llm))
            case .success(let result):
                for (index, completion) in result.completions.enumerated() {
                    let which = result.completions.count > 1 ? " completion \(index)" : ""
                    print("--- line \(request.line)\(which): \(completion.outputIds.count) tokens, \(completion.finishReason.rawValue)")
                    print(completion.text ?? completion.outputIds.map(String.init).joined(separator: " "))
                }
            case .failure(let error):
                failures += 1
                if json { try printJSONObject([("line", request.line), ("error", "\(error)")]) }
                printError("\(promptsFile!) line \(request.line): \(error)")
            }
        }
        if failures > 0 { throw ExitCode.failure }
    }
}

/// A chosen token's logprobs in the `--json` output (a log-probability of -inf is null).
struct JSONTokenLogprobs: Encodable {
    struct Entry: Encodable {
        let id: Int32
        let logprob: Float?

        init(_ id: Int32, _ logprob: Float) {
            self.id = id
            self.logprob = logprob.isFinite ? logprob : nil
        }
    }

    let chosen: Entry
    let top: [Entry]

    init(_ logprobs: TokenLogprobs) {
        chosen = Entry(logprobs.token, logprobs.logprob)
        top = logprobs.top.map { Entry($0.token, $0.logprob) }
    }

    private enum CodingKeys: String, CodingKey { case id, logprob, top = "top_logprobs" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(chosen.id, forKey: .id)
        try container.encode(chosen.logprob, forKey: .logprob)
        try container.encode(top, forKey: .top)
    }
}

private func userMessage(_ text: String) -> JSONValue {
    .object(JSONObject([("role", .string("user")), ("content", .string(text))]))
}

/// `conversation` rendered with the model's chat template, as token ids.
private func chatPromptTokens(_ conversation: [JSONValue], tokenizer: Tokenizer) throws -> [Int32] {
    // the template writes the special tokens itself, as in transformers' apply_chat_template
    let text = try tokenizer.applyChatTemplate(messages: conversation, addGenerationPrompt: true)
    return tokenizer.encode(text, addSpecialTokens: false)
}
