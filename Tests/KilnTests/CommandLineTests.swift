// The `kiln` binary as a user runs it: same ids as the parity tests, clean errors.

import Foundation
import Testing

/// Runs the `kiln` executable built beside the test bundle.
func runKiln(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let buildDirectory = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        .deletingLastPathComponent()
    let process = Process()
    process.executableURL = buildDirectory.appendingPathComponent("kiln")
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

@Suite struct CommandLineTests {
    @Test(arguments: ["llama-gqa", "qwen2-tied"])
    func generateJSONPrintsTheGreedyIds(fixture: String) throws {
        let (reference, _) = try Reference.load(fixture)
        let prompt = reference.prompts[1]
        let run = try runKiln(["generate", "--model", fixturesDirectory + "/" + fixture,
                               "--prompt-ids", prompt.input_ids.map(String.init).joined(separator: ","),
                               "--max-tokens", "32", "--ignore-eos", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["output_ids"] as? [Int32] == prompt.greedy_ids)
        #expect(object["prompt_ids"] as? [Int32] == prompt.input_ids)
        #expect(object["finish_reason"] as? String == "length")
        #expect((object["prefill_ms"] as? Double).map { $0 > 0 } == true)
        #expect((object["decode_tok_s"] as? Double).map { $0 > 0 } == true)
        #expect(run.stdout.hasPrefix("{\"prompt_ids\":"))
    }

    @Test func logitsCommandWritesEveryPosition() throws {
        let (reference, tensors) = try Reference.load("llama3-rope-mha")
        let prompt = reference.prompts[0]
        let out = NSTemporaryDirectory() + "kiln-logits-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try runKiln(["logits", "--model", fixturesDirectory + "/llama3-rope-mha",
                               "--prompt-ids", prompt.input_ids.map(String.init).joined(separator: ","), "--out", out])
        #expect(run.status == 0, "\(run.stderr)")
        let written = try KilnCheckpoint.SafetensorsFile(path: out).tensor(named: "logits")
        #expect(written.shape == [prompt.input_ids.count, 1024])
        #expect(maxAbsoluteDifference(written.floats(), try tensors.tensor(named: "prompt0.logits").floats()) < 1e-3)
    }

    @Test func inspectPrintsTheGraph() throws {
        let run = try runKiln(["inspect", "--model", fixturesDirectory + "/qwen2-tied", "--graph"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("model: Qwen2ForCausalLM"))
        #expect(run.stdout.contains("weight model.layers.1.self_attn.q_proj.bias"))
        #expect(run.stdout.contains("plugin.attention(layer: 1, heads: 4, kv_heads: 2, head_dim: 16)"))
        #expect(run.stdout.contains("gather_last_tokens"))
    }

    @Test func badInputsExitNonZeroWithOneLineReasons() throws {
        let missing = try runKiln(["generate", "--model", "/tmp/kiln-no-model", "--prompt-ids", "1"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/tmp/kiln-no-model/config.json: cannot read (no such file)"))
        let badIds = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt-ids", "1,x"])
        #expect(badIds.status != 0 && badIds.stderr.contains("'x' is not a token id"))
        let outOfVocabulary = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt-ids", "5000"])
        #expect(outOfVocabulary.status != 0 && outOfVocabulary.stderr.contains("token id 5000 is outside the vocabulary (0..<1024)"))
        let badTopP = try runKiln(["generate", "--model", fixturesDirectory + "/llama-gqa", "--prompt-ids", "1", "--top-p", "1.5"])
        #expect(badTopP.status != 0 && badTopP.stderr.contains("top_p"))
    }
}

import KilnCheckpoint

@Suite struct DoctorTests {
    /// Without a GPU the doctor says so and succeeds; with one it lists it (the GPU machine).
    @Test func doctorReportsTheMachine() throws {
        let run = try runKiln(["doctor"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("-bit SIMD kernels"))
        #expect(run.stdout.contains("gpu: none") || run.stdout.contains(", sm_"))
    }
}
