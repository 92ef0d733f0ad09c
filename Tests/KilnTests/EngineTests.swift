// Engines: built, saved, loaded again and refitted, with the same outputs as the model
// built in memory; damaged engines fail with errors, never crashes.

import Foundation
import Kiln
import KilnCheckpoint
import KilnCompiler
import KilnCPU
import KilnRuntime
import KilnTensor
import Testing

func temporaryDirectory() -> String { NSTemporaryDirectory() + "kiln-engine-\(UUID().uuidString)" }

/// `fixture` built (with the CPU's default rules, or `disabledFusions`) and saved as an
/// engine; returns the folder.
func savedEngine(_ fixture: String, disabledFusions: Set<String>? = nil) throws -> String {
    let directory = temporaryDirectory()
    try LLM(model: fixturesDirectory + "/" + fixture, options: BuildOptions(disabledFusions: disabledFusions)).save(engine: directory)
    return directory
}

@Suite struct EngineTests {
    @Test(arguments: parityFixtures)
    func savedEnginesReproduceHuggingFace(fixture: String) throws {
        let directory = try savedEngine(fixture)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let engine = try LLM(model: directory)
        let (reference, tensors) = try Reference.load(fixture)
        for (i, prompt) in reference.prompts.enumerated() {
            let result = try engine.generate(prompt: prompt.input_ids, SamplingParams(maxTokens: 32, ignoreEOS: true))
            #expect(result.outputIds == prompt.greedy_ids)
            let difference = maxAbsoluteDifference(try engine.promptLogits(prompt.input_ids).floats(),
                                                   try tensors.tensor(named: "prompt\(i).logits").floats())
            #expect(difference < 1e-3)
        }
        #expect(engine.tokenizer?.encode(reference.prompts[0].text) == reference.prompts[0].input_ids)
    }

    @Test(arguments: [nil, []] as [Set<String>?])
    func refitGivesTheOtherModelsOutputsExactly(disabledFusions: Set<String>?) throws {
        let directory = try savedEngine("llama-gqa", disabledFusions: disabledFusions)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // the bf16 fixture's weights stored as F32 (exact): same names, shapes and dtypes
        let other = temporaryDirectory()
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: other) }
        try FileManager.default.copyItem(atPath: fixturesDirectory + "/llama-gqa-bf16/config.json", toPath: other + "/config.json")
        let bf16 = try SafetensorsFile(path: fixturesDirectory + "/llama-gqa-bf16/model.safetensors")
        try SafetensorsWriter.write(try bf16.tensorNames.map { (name: $0, tensor: HostTensor(try bf16.tensor(named: $0).floats(), shape: try bf16.tensor(named: $0).shape)) },
                                    to: other + "/model.safetensors")
        let run = try runKiln(["refit", "--engine", directory, "--weights", other])
        #expect(run.status == 0, "\(run.stderr)")

        let refitted = try LLM(model: directory), direct = try LLM(model: other)
        let (reference, _) = try Reference.load("llama-gqa-bf16")
        for prompt in reference.prompts {
            #expect(try refitted.generate(prompt: prompt.input_ids, SamplingParams(maxTokens: 32, ignoreEOS: true)).outputIds == prompt.greedy_ids)
            #expect(try refitted.promptLogits(prompt.input_ids).floats() == direct.promptLogits(prompt.input_ids).floats())
        }
    }

    @Test func refitWithOtherShapesListsTheMismatches() throws {
        let directory = try savedEngine("llama-gqa")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try runKiln(["refit", "--engine", directory, "--weights", fixturesDirectory + "/mistral-spm"])
        #expect(run.status != 0)
        #expect(run.stderr.contains("'model.layers.0.self_attn.k_proj.weight' is F32 [16, 64], the engine has F32 [32, 64]"))
        #expect(try LLM(model: directory).generate(prompt: [0, 1], .greedy(maxTokens: 2)).outputIds.count == 2)  // untouched
        // with every rule on, q, k and v are one derived weight, rebuilt from the new ones
        let merged = try savedEngine("llama-gqa", disabledFusions: [])
        defer { try? FileManager.default.removeItem(atPath: merged) }
        let mergedRun = try runKiln(["refit", "--engine", merged, "--weights", fixturesDirectory + "/mistral-spm"])
        #expect(mergedRun.stderr.contains("v_proj.weight)' is F32 [96, 64], the engine has F32 [128, 64]"))
    }

    /// Saves an engine, damages it with `damage`, and expects `load` to fail with `expected`.
    func expectDamaged(_ damage: (String) throws -> Void, _ expected: (EngineError) -> Bool) throws {
        let directory = try savedEngine("qwen2-tied")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try damage(directory)
        do {
            _ = try Engine.load(from: directory, backend: "cpu", architectures: CPUExecutable.runnableArchitectures)
            Issue.record("expected an error")
        } catch {
            #expect(expected(error), "\(error)")
            #expect(error.description.contains("kiln build") || error.description.contains("cannot read"))
        }
    }

    func editHeader(_ directory: String, _ edit: (inout [String: Any]) -> Void) throws {
        let url = URL(fileURLWithPath: directory + "/engine.json")
        var header = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&header)
        try JSONSerialization.data(withJSONObject: header).write(to: url)
    }

    /// An engine built for another machine (here: a CUDA engine for an H200) is refused by
    /// `LLM` with what to do, and still inspected.
    @Test func engineForAnotherMachineIsInspectedNotRun() throws {
        let directory = try savedEngine("qwen2-tied")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try editHeader(directory) { $0["backend"] = "cuda"; $0["architecture"] = "sm_90"; $0["device"] = "cuda: NVIDIA H200, sm_90, 132 SMs" }
        let inspect = try runKiln(["inspect", directory])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("for cuda on sm_90 (cuda: NVIDIA H200"))
        if !gpuAvailable {
            #expect { try LLM(model: directory) } throws: { "\($0)".contains("install the NVIDIA driver") }
        }
    }

    @Test func damagedEnginesAreRefused() throws {
        try expectDamaged({ try FileManager.default.removeItem(atPath: $0 + "/engine.json") }) { if case .missing = $0 { true } else { false } }
        try expectDamaged({ try Data("{\"hello\": 1}".utf8).write(to: URL(fileURLWithPath: $0 + "/engine.json")) }) { if case .notAnEngine = $0 { true } else { false } }
        try expectDamaged({ try self.editHeader($0) { $0["format_version"] = 99 } }) { if case .formatVersion(_, 99, Engine.formatVersion) = $0 { true } else { false } }
        try expectDamaged({ try self.editHeader($0) { $0["backend"] = "cuda" } }) { if case .backend(_, "cuda", "cpu") = $0 { true } else { false } }
        // kernels chosen for vectors wider than this CPU has
        try expectDamaged({ try self.editHeader($0) { $0["architecture"] = "x86_64-simd1024" } }) {
            if case .device(_, "x86_64-simd1024", CPUExecutable.runnableArchitectures) = $0 { true } else { false }
        }
        try expectDamaged({ directory in
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: directory + "/weights.bin"))
            try handle.seek(toOffset: 4100)
            try handle.write(contentsOf: Data([0x5A, 0xA5]))
            try handle.close()
        }) { if case .checksum = $0 { true } else { false } }
        try expectDamaged({ directory in
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: directory + "/weights.bin"))
            try handle.truncate(atOffset: 1000)
            try handle.close()
        }) { if case .truncated(_, _, 1000) = $0 { true } else { false } }
        try expectDamaged({ try self.editHeader($0) { header in
            var graphs = header["graphs"] as! [String: Any]
            var generate = graphs["generate"] as! [String: Any]
            generate["outputs"] = [100_000]
            graphs["generate"] = generate
            header["graphs"] = graphs
        } }) { if case .notAnEngine = $0 { true } else { false } }
    }

    @Test func engineFromGGUFKeepsItsTokenizer() throws {
        guard let path = smolLM2Path else { return }  // covered when Scripts/smollm2.sh has run
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try LLM(model: path, options: BuildOptions(maxSequenceLength: 256)).save(engine: directory)
        let engine = try LLM(model: directory)
        let reference = try SmolLM2Reference.load()
        let chat = reference.chats[0]
        #expect(engine.tokenizer?.encode(chat.rendered, addSpecialTokens: false) == chat.input_ids)
        #expect(try engine.generate(prompt: chat.input_ids, SamplingParams(maxTokens: 64)).outputIds == chat.greedy_ids)
    }
}

@Suite struct WeightTypeTests {
    /// llama-gqa-bf16 holds llama-gqa's weights rounded to bf16 (same seed), so building the
    /// fp32 fixture with bf16 weights must reproduce the bf16 fixture's reference.
    @Test func bf16BuildOfTheFP32FixtureMatchesTheBF16Reference() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try runKiln(["build", "--model", fixturesDirectory + "/llama-gqa", "--output", directory, "--dtype", "bf16"])
        #expect(run.status == 0, "\(run.stderr)")
        let engine = try Engine.load(from: directory, backend: "cpu", architectures: CPUExecutable.runnableArchitectures)
        // matrices stay bf16; norm scales (read as f32 by their kernels) are widened from the rounded values
        #expect(engine.header.weights.allSatisfy { $0.dtype == .bf16 || ($0.dtype == .f32 && $0.name.hasPrefix("f32(bf16(")) })
        #expect(engine.header.weights.contains { $0.dtype == .f32 })
        let llm = try LLM(model: directory)
        let (reference, tensors) = try Reference.load("llama-gqa-bf16")
        for (i, prompt) in reference.prompts.enumerated() {
            #expect(try llm.generate(prompt: prompt.input_ids, SamplingParams(maxTokens: 32, ignoreEOS: true)).outputIds == prompt.greedy_ids)
            #expect(maxAbsoluteDifference(try llm.promptLogits(prompt.input_ids).floats(), try tensors.tensor(named: "prompt\(i).logits").floats()) < 1e-3)
        }
        let bad = try runKiln(["build", "--model", fixturesDirectory + "/llama-gqa", "--output", directory, "--dtype", "int3"])
        #expect(bad.status != 0 && bad.stderr.contains("--dtype int3"))
    }
}
