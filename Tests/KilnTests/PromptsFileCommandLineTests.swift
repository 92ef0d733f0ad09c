// `kiln generate --prompts-file`: many requests through the executor, staggered, printed in
// the file's order with Hugging Face's greedy tokens; bad lines named by file, line and field.

import Foundation
import KilnTokenizers
import Testing

@Suite struct PromptsFileCommandLineTests {
    @Test func everyLinePrintsItsResultInFileOrder() throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let ids = { (prompt: Reference.Prompt) in prompt.input_ids.map(String.init).joined(separator: ",") }
        // later lines arrive first: the output still follows the file
        let file = try temporaryFile("""
            {"prompt_ids": [\(ids(reference.prompts[0]))], "max_tokens": 32, "arrival_ms": 30}

            {"prompt_ids": [\(ids(reference.prompts[1]))], "arrival_ms": 10}
            {"prompt": \(quotedJSONString(reference.prompts[2].text)), "max_tokens": 5, "temperature": 0.7, "seed": 4}
            {"prompt": "Hello", "chat": true, "max_tokens": 3, "top_k": 5, "top_p": 0.9}
            """, suffix: ".jsonl")
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompts-file", file,
                               "--max-tokens", "16", "--ignore-eos", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        }
        #expect(lines.count == 4)
        guard lines.count == 4 else { return }
        #expect(lines[0]["output_ids"] as? [Int32] == reference.prompts[0].greedy_ids)
        #expect(lines[1]["output_ids"] as? [Int32] == Array(reference.prompts[1].greedy_ids.prefix(16)))
        #expect(lines[1]["prompt_ids"] as? [Int32] == reference.prompts[1].input_ids)
        #expect((lines[2]["output_ids"] as? [Int32])?.count == 5)
        #expect((lines[3]["output_ids"] as? [Int32])?.count == 3)
        for line in lines {
            #expect(line["finish_reason"] as? String == "length")
            #expect(Set(line.keys) == ["prompt_ids", "output_ids", "text", "finish_reason", "prefill_ms", "decode_tok_s", "activation_bytes"])
        }
    }

    @Test func stopStringsSeveralCompletionsAndBeamSearchRunFromTheFile() throws {
        let (reference, _) = try Reference.load("llama-gqa")
        let ids = reference.prompts[1].input_ids.map(String.init).joined(separator: ",")
        // a stop string from early in the greedy answer (its plain-text part): the text ends
        // before its first occurrence
        let greedy = reference.prompts[1].greedy_text
        let stop = String(greedy.dropFirst(10).prefix(3))
        let expected = String(greedy[..<greedy.range(of: stop)!.lowerBound])
        let file = try temporaryFile("""
            {"prompt_ids": [\(ids)], "max_tokens": 32, "stop": \(quotedJSONString(stop))}
            {"prompt_ids": [\(ids)], "max_tokens": 4, "n": 2, "temperature": 0.8, "seed": 3}
            {"prompt_ids": [\(ids)], "max_tokens": 4, "beam_width": 3, "n": 2}
            """, suffix: ".jsonl")
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompts-file", file, "--ignore-eos", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
        }
        #expect(lines.count == 3)
        guard lines.count == 3 else { return }
        #expect(lines[0]["finish_reason"] as? String == "stop")
        #expect(lines[0]["text"] as? String == expected)
        let sampled = lines[1]["completions"] as? [[String: Any]] ?? []
        #expect(sampled.count == 2 && sampled.allSatisfy { ($0["output_ids"] as? [Int32])?.count == 4 })
        let beams = lines[2]["completions"] as? [[String: Any]] ?? []
        #expect(beams.count == 2 && beams.allSatisfy { $0["score"] is Double })
    }

    @Test(arguments: [
        (#"{"prompt": "x", "stop": [1]}"#, "line 2: field 'stop': 1 is not a string"),
        (#"{"prompt": "x", "n": 0}"#, "line 2: n = 0 is invalid"),
        (#"{"prompt": "x", "beam_width": 0}"#, "line 2: beam_width = 0 is invalid"),
        (#"{"prompt": "x", "beam_width": 2, "temperature": 0.7}"#, "line 2: temperature = 0.7 is invalid"),
        (#"{"prompt": "x", "max_tokens": "many"}"#, "line 2: field 'max_tokens': expected an integer"),
        (#"{"prompt_ids": [1, -2]}"#, "line 2: field 'prompt_ids': -2 is not a token id"),
        (#"{"prompt": "x", "prompt_ids": [1]}"#, "line 2: give exactly one of the fields 'prompt' and 'prompt_ids'"),
        (#"{"prompt_ids": [1], "chat": true}"#, "line 2: field 'chat'"),
        (#"{"prompt": "x", "top_p": 1.5}"#, "line 2: top_p = 1.5 is invalid"),
        (#"{"prompt": "x", "arrival_ms": -1}"#, "line 2: field 'arrival_ms'"),
        (#"{"prompt": "x", "colour": "red"}"#, "line 2: unknown field 'colour'"),
        (#"{"prompt": "x""#, "line 2: not JSON"),
        (#"["x"]"#, "line 2: expected a JSON object"),
    ])
    func aBadLineIsNamedByFileLineAndField(line: String, message: String) throws {
        let file = try temporaryFile("{\"prompt_ids\": [1, 2]}\n" + line + "\n", suffix: ".jsonl")
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompts-file", file])
        #expect(run.status != 0)
        #expect(run.stderr.contains(file + " " + message), "\(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func aRequestTheModelRefusesFailsAloneAndTheExitStatusSaysSo() throws {
        let file = try temporaryFile("{\"prompt_ids\": [1, 5000]}\n{\"prompt_ids\": [1, 2], \"max_tokens\": 2}\n", suffix: ".jsonl")
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompts-file", file, "--json"])
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first.map { $0.contains("\"line\":1") && $0.contains("token id 5000 is outside the vocabulary") } == true)
        #expect(lines.last.map { $0.contains("\"finish_reason\":\"length\"") } == true)
        #expect(run.stderr.contains(file + " line 1: token id 5000"))
    }
}
