// The text side of the `kiln` binary: tokenize, detokenize, template and text prompts give
// exactly what Hugging Face gives for the same fixture.

import Foundation
import KilnTokenizers
import Testing

struct TokenizerReference: Decodable {
    struct Case: Decodable {
        let text: String
        let ids: [Int32]
        let ids_no_special: [Int32]
        let decoded: String
    }
    struct Chat: Decodable {
        let add_generation_prompt: Bool
        let text: String?
        let error: String?
    }
    let encode: [Case]
    let chat: [Chat]

    static func load(_ fixture: String) throws -> TokenizerReference {
        try JSONDecoder().decode(TokenizerReference.self, from: Data(contentsOf: URL(fileURLWithPath: fixturesDirectory + "/\(fixture)/tokenizer_reference.json")))
    }
}

/// `contents` written to a fresh temporary file.
func temporaryFile(_ contents: String, suffix: String = ".json") throws -> String {
    let path = NSTemporaryDirectory() + "kiln-\(UUID().uuidString)\(suffix)"
    try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
    return path
}

@Suite struct TextCommandLineTests {
    @Test(arguments: ["llama-gqa", "mistral-spm"])
    func tokenizeTextsFileGivesOneLinePerString(fixture: String) throws {
        let reference = try TokenizerReference.load(fixture)
        let texts = "[" + reference.encode.map { quotedJSONString($0.text) }.joined(separator: ",") + "]"
        let file = try temporaryFile(texts)
        let run = try runKiln(["tokenize", "--model", fixturesDirectory + "/" + fixture, "--texts-file", file, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == reference.encode.count)
        for (line, expected) in zip(lines, reference.encode) {
            #expect(String(line) == "{\"ids\":[" + expected.ids.map(String.init).joined(separator: ",") + "]}", "\(expected.text)")
        }
        let plain = try runKiln(["tokenize", "--model", fixturesDirectory + "/" + fixture, "--text", reference.encode[1].text, "--no-special", "--json"])
        #expect(plain.stdout == "{\"ids\":[" + reference.encode[1].ids_no_special.map(String.init).joined(separator: ",") + "]}\n")
    }

    @Test func detokenizePrintsTheDecodedText() throws {
        let reference = try TokenizerReference.load("qwen2-tied")
        for testCase in reference.encode.prefix(8) where !testCase.ids_no_special.isEmpty {
            let run = try runKiln(["detokenize", "--model", fixturesDirectory + "/qwen2-tied",
                                   "--ids", testCase.ids_no_special.map(String.init).joined(separator: ",")])
            #expect(run.status == 0)
            #expect(run.stdout == testCase.decoded)
        }
    }

    @Test func templateRendersExactlyWithoutANewline() throws {
        let file = try temporaryFile(#"[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}]"#)
        let reference = try TokenizerReference.load("qwen2-tied")
        let expected = try #require(reference.chat.first { $0.add_generation_prompt && $0.text?.contains("You are terse.") == true }?.text)
        let run = try runKiln(["template", "--model", fixturesDirectory + "/qwen2-tied", "--messages", file, "--add-generation-prompt"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == expected)
    }

    @Test func templateFileWithVariablesAndPinnedDate() throws {
        let template = try temporaryFile("{{ bos_token }}{{ strftime_now('%d %b %Y') }}|{% for m in messages %}{{ m.content }}{% endfor %}", suffix: ".jinja")
        let messages = try temporaryFile(#"[{"role": "user", "content": "hi"}]"#)
        let run = try runKiln(["template", "--template", template, "--messages", messages, "--var", "bos_token=<s>", "--now", "2024-07-26"])
        #expect(run.stdout == "<s>26 Jul 2024|hi")
    }

    @Test func aTemplateThatRefusesGivesItsOwnMessage() throws {
        let file = try temporaryFile(#"[{"role": "assistant", "content": "x"}]"#)
        let run = try runKiln(["template", "--model", fixturesDirectory + "/mistral-spm", "--messages", file])
        #expect(run.status != 0)
        #expect(run.stderr.contains("Conversation roles must alternate user/assistant/user/assistant/..."))
    }

    @Test func generateFromTextMatchesTheIdsRun() throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let prompt = reference.prompts[0]
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt", prompt.text,
                               "--max-tokens", "32", "--ignore-eos", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["prompt_ids"] as? [Int32] == prompt.input_ids)
        #expect(object["output_ids"] as? [Int32] == prompt.greedy_ids)
        #expect(object["text"] as? String == prompt.greedy_text)
    }

    @Test func chatPromptGoesThroughTheTemplate() throws {
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/qwen2-tied", "--prompt", "Hello!", "--chat",
                               "--max-tokens", "4", "--ignore-eos", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let reference = try TokenizerReference.load("qwen2-tied")
        let rendered = try #require(reference.chat.first { $0.add_generation_prompt }?.text)  // [user: Hello!] + generation prompt
        let tokenize = try runKiln(["tokenize", "--model", fixturesDirectory + "/qwen2-tied", "--text", rendered, "--no-special", "--json"])
        #expect(tokenize.stdout == "{\"ids\":[" + (object["prompt_ids"] as! [Int32]).map(String.init).joined(separator: ",") + "]}\n")
    }

    @Test func badTextInputsFailWithReasons() throws {
        let outOfRange = try runKiln(["detokenize", "--model", fixturesDirectory + "/llama-gqa", "--ids", "5000"])
        #expect(outOfRange.status != 0 && outOfRange.stderr.contains("5000"))
        let notArray = try runKiln(["tokenize", "--model", fixturesDirectory + "/llama-gqa", "--texts-file", try temporaryFile(#"{"a": 1}"#)])
        #expect(notArray.status != 0 && notArray.stderr.contains("array of strings"))
        let both = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt", "a", "--prompt-ids", "1"])
        #expect(both.status != 0 && both.stderr.contains("exactly one of"))
    }
}
