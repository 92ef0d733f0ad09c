// Step limits: the activation arena is planned for the engine's largest step; longer prompts
// prefill in chunks with the same results, and steps past the limits are refused.

import Foundation
import Kiln
import KilnCPU
import KilnGraph
import KilnRuntime
import Testing

@Suite struct StepLimitTests {
    @Test(arguments: parityFixtures)
    func chunkedPrefillGivesTheSameTokensAndLogits(fixture: String) throws {
        let small = try LLM(model: fixturesDirectory + "/" + fixture, options: BuildOptions(limits: StepLimits(maxNumTokens: 3, maxBatchSize: 1)))
        let (reference, tensors) = try Reference.load(fixture)
        for (i, prompt) in reference.prompts.enumerated() {
            #expect(try small.generate(prompt: prompt.input_ids, SamplingParams(maxTokens: 32, ignoreEOS: true)).outputIds == prompt.greedy_ids)
            let difference = maxAbsoluteDifference(try small.promptLogits(prompt.input_ids).floats(),
                                                   try tensors.tensor(named: "prompt\(i).logits").floats())
            #expect(difference < 1e-3)
        }
        #expect(small.activationBytes < (try LLM(model: fixturesDirectory + "/" + fixture)).activationBytes)
    }

    @Test func aStepPastTheLimitsIsRefusedWithTheFix() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: BuildOptions(limits: StepLimits(maxNumTokens: 4, maxBatchSize: 1)))
        let step = StepInputs(sequences: [([1, 2, 3, 4, 5], SequenceStep(cachedTokens: 0, newTokens: 5, blockTable: [0]))], tokensPerBlock: 32)
        #expect(throws: CPUBackendError.invalidStep("5 tokens in 1 sequences exceed the engine's limit of 4 tokens, 1 sequences a step; "
                                                    + "split the step, or rebuild with a larger --max-num-tokens / --max-batch-size")) {
            try llm.executable.forward(step)
        }
    }

    @Test func buildRecordsLimitsAndMeasuredKernels() throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try runKiln(["build", "--model", fixturesDirectory + "/llama-gqa", "--output", directory,
                               "--max-num-tokens", "256", "--max-batch-size", "8"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("activations for the largest step (256 tokens, 8 sequences)"))
        #expect(run.stdout.contains("kernel-selection") && run.stdout.contains("residual-rmsnorm: 3"))
        #expect(run.stderr.contains("build 100%: done"))  // progress, one line a stage off a terminal
        let inspect = try runKiln(["inspect", directory])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        #expect(inspect.stdout.contains("step limits: 256 tokens, 8 sequences"))
        #expect(inspect.stdout.contains("gemm_nt f32 1024x64 m=1 → threads="))
        if !gpuAvailable {
            let cuda = try runKiln(["build", "--model", fixturesDirectory + "/llama-gqa", "--output", directory, "--backend", "cuda"])
            #expect(cuda.status != 0 && cuda.stderr.contains("install the NVIDIA driver"), "\(cuda.stderr)")
        }
        let unknown = try runKiln(["build", "--model", fixturesDirectory + "/llama-gqa", "--output", directory, "--backend", "tpu"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--backend tpu: expected cpu or cuda"))
        let persistent = try runKiln(["build", "--model", fixturesDirectory + "/llama-gqa", "--output", directory, "--persistent-decode", "maybe"])
        #expect(persistent.status != 0 && persistent.stderr.contains("--persistent-decode maybe: expected auto, on or off"))
        let tooBig = try runKiln(["build", "--model", fixturesDirectory + "/llama-gqa", "--output", directory, "--max-batch-size", "512",
                                  "--max-num-tokens", "64"])
        #expect(tooBig.status != 0 && tooBig.stderr.contains("--max-batch-size 512 exceeds --max-num-tokens 64"))
    }
}
