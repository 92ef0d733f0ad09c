// The CUDA backend against Hugging Face and against the CPU backend on every fixture. These
// run where a GPU is visible (the GPU machine) and are skipped elsewhere.

import Foundation
import Kiln
import KilnCUDA
import KilnGraph
import KilnRuntime
import Testing

let gpuAvailable = (try? CUDADevice()) != nil

/// The GPU in f32 throughout (parity runs), its KV pool sized for one sequence.
let cudaF32 = BuildOptions(weightType: .f32, backend: .cuda, kvCacheFraction: nil)
/// The GPU's fast path: bf16 weights and activations, f32 accumulation.
let cudaBF16 = BuildOptions(backend: .cuda, kvCacheFraction: nil)

@Suite(.enabled(if: gpuAvailable, "no GPU visible"), .serialized) struct CUDAParityTests {
    @Test(arguments: parityFixtures)
    func greedyTokensMatchHuggingFaceInF32(fixture: String) throws {
        try ParityTests.greedyTokensMatch(fixture: fixture, options: cudaF32)
    }

    @Test(arguments: parityFixtures)
    func promptLogitsMatchHuggingFaceInF32(fixture: String) throws {
        try ParityTests.promptLogitsMatch(fixture: fixture, options: cudaF32)
    }

    @Test(arguments: parityFixtures)
    func finalLogitsAfterDecodeMatchHuggingFaceInF32(fixture: String) throws {
        try ParityTests.finalLogitsAfterDecodeMatch(fixture: fixture, options: cudaF32)
    }

    @Test func packedSequencesMatchSeparateRunsInF32() throws {
        try ParityTests.packedSequencesMatch(options: cudaF32)
    }

    /// Requests picked on the host (penalties, bias, min-p, logprobs, n) batched with requests
    /// the GPU picks: each gets what the generator gives it alone.
    @Test func hostPickedRequestsBatchLikeAlone() throws {
        var options = cudaF32
        options.maxSequenceLength = 1024
        options.limits = StepLimits(maxNumTokens: 16, maxBatchSize: 8)
        try SamplingParamsTests.batchedMatchesAlone(fixture: "llama-gqa", options: options)
    }

    /// Both backends in f32 give the same prompt logits and the same greedy tokens.
    @Test(arguments: parityFixtures)
    func gpuAgreesWithCPU(fixture: String) throws {
        let cpu = try LLM(model: fixturesDirectory + "/" + fixture)
        let gpu = try LLM(model: fixturesDirectory + "/" + fixture, options: cudaF32)
        let (reference, _) = try Reference.load(fixture)
        for prompt in reference.prompts {
            let difference = maxAbsoluteDifference(try cpu.promptLogits(prompt.input_ids).floats(), try gpu.promptLogits(prompt.input_ids).floats())
            #expect(difference < 1e-3, "\(fixture): max |Δ| = \(difference)")
            var params = SamplingParams.greedy(maxTokens: 32)
            params.ignoreEOS = true
            #expect(try cpu.generate(prompt: prompt.input_ids, params).outputIds == gpu.generate(prompt: prompt.input_ids, params).outputIds)
        }
    }

    /// bf16 against Hugging Face. Fed HF's f32 greedy tokens (teacher forcing, so one early
    /// difference does not decide the rest), Kiln's argmax is HF's next token for at least 30
    /// of 32. Over the prompts, the logits' argmax agrees with HF's own bf16 run
    /// (reference_bf16.json, Scripts/fixtures/make_bf16_references.py) at 99% of positions —
    /// where HF's bf16 logits tie (its top tokens within one bf16 step, which its output
    /// cannot order) any of the tied tokens is its argmax; against the f32 reference, where
    /// rounding the weights to bf16 alone moves near-ties, Kiln agrees at least as often as HF
    /// in bf16 does.
    @Test(arguments: parityFixtures)
    func bf16StaysWithHuggingFace(fixture: String) throws {
        try Self.staysWithHuggingFace(fixture: fixture, options: cudaBF16, halfPrecisionReference: true)
    }

    /// f16 activations and weights (`--dtype f16`), whose 11-bit mantissas keep near-ties in
    /// place: the same next-token agreement, and the argmax of the f32 reference at 99% of positions.
    @Test(arguments: parityFixtures)
    func f16StaysWithHuggingFace(fixture: String) throws {
        try Self.staysWithHuggingFace(fixture: fixture, options: BuildOptions(weightType: .f16, backend: .cuda, kvCacheFraction: nil),
                                      halfPrecisionReference: false)
    }

    /// `halfPrecisionReference`: the argmax is held to HF's bf16 run, else to the f32 reference.
    static func staysWithHuggingFace(fixture: String, options: BuildOptions, halfPrecisionReference: Bool) throws {
        let llm = try LLM(model: fixturesDirectory + "/" + fixture, options: options)
        let (reference, tensors) = try Reference.load(fixture)
        let halfReference = try HalfPrecisionReference.load(fixture)
        var positions = 0, withHalf = 0, withF32 = 0, halfWithF32 = 0, misses: [String] = []
        for (i, prompt) in reference.prompts.enumerated() {
            let tokens = prompt.input_ids + prompt.greedy_ids
            let logits = try llm.promptLogits(tokens).floats(), expected = try tensors.tensor(named: "prompt\(i).logits").floats()
            let width = expected.count / prompt.input_ids.count
            let next = prompt.greedy_ids.indices.filter { rowArgmax(logits, prompt.input_ids.count - 1 + $0, width) == prompt.greedy_ids[$0] }
            #expect(next.count >= prompt.greedy_ids.count - 2, "\(fixture) prompt \(i): \(next.count) of \(prompt.greedy_ids.count) next tokens agree")
            let half = halfReference.prompts[i]
            for row in 0..<prompt.input_ids.count {
                positions += 1
                let ours = rowArgmax(logits, row, width), f32 = rowArgmax(expected, row, width)
                if ours == f32 { withF32 += 1 }
                if half.argmax[row] == f32 { halfWithF32 += 1 }
                let agreesWithHalf = half.ties[row].contains(ours)
                if agreesWithHalf { withHalf += 1 }
                if halfPrecisionReference ? !agreesWithHalf : ours != f32 {
                    misses.append("prompt \(i) row \(row): ours \(ours), HF bf16 \(half.ties[row]), top-2 gap \(half.gap[row])")
                }
            }
        }
        let agreeing = halfPrecisionReference ? withHalf : withF32
        #expect(Double(agreeing) >= 0.99 * Double(positions),
                "\(fixture): argmax agrees with HF's \(halfPrecisionReference ? "bf16 run" : "f32 reference") at \(agreeing) of \(positions) positions; where not: \(misses)")
        #expect(withF32 >= halfWithF32, "\(fixture): argmax agrees with the f32 reference at \(withF32) of \(positions) positions, HF in bf16 at \(halfWithF32)")
    }

    /// The GPU's sampling kernel picks what `TokenChoice.pick` picks on the host for the
    /// same logits and draw: temperature, top-k, top-p and their mix.
    @Test func gpuSamplingPicksWhatTheHostPicks() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: cudaF32)
        let executable = llm.executable
        let (reference, _) = try Reference.load("llama-gqa")
        let prompt = reference.prompts[0].input_ids
        let step = StepInputs(sequences: [(prompt, SequenceStep(cachedTokens: 0, newTokens: prompt.count, blockTable: [0]))],
                              tokensPerBlock: executable.kvCacheLayout.tokensPerBlock)
        let logits = try executable.forward(step).floats()
        let choices = [TokenChoice(temperature: 0.7, uniform: 0.3), TokenChoice(temperature: 1, topK: 5, uniform: 0.9),
                       TokenChoice(temperature: 1.3, topP: 0.8, uniform: 0.55), TokenChoice(temperature: 0.9, topK: 50, topP: 0.9, uniform: 0.01),
                       TokenChoice(temperature: 2, uniform: 0.999)]
        for choice in choices {
            let host = logits.withUnsafeBufferPointer { choice.pick($0) }
            #expect(try executable.forward(step, choices: [choice]) == [host], "\(choice)")
        }
    }

    /// A seeded sampled generation gives the same tokens on the GPU and the CPU (f32).
    @Test func seededSamplingMatchesTheCPU() throws {
        let (reference, _) = try Reference.load("qwen2-tied")
        var params = SamplingParams(temperature: 0.8, topK: 40, topP: 0.9, seed: 7, maxTokens: 24)
        params.ignoreEOS = true
        let prompt = reference.prompts[1].input_ids
        let cpu = try LLM(model: fixturesDirectory + "/qwen2-tied").generate(prompt: prompt, params).outputIds
        #expect(try LLM(model: fixturesDirectory + "/qwen2-tied", options: cudaF32).generate(prompt: prompt, params).outputIds == cpu)
    }

    /// A CUDA engine folder keeps its compiled kernels (read before the machine's cache) and
    /// loads on the GPU with the tokens of the in-memory build.
    @Test func cudaEngineKeepsItsKernels() throws {
        let directory = NSTemporaryDirectory() + "kiln-cuda-engine-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let built = try LLM(model: fixturesDirectory + "/qwen2-tied", options: cudaBF16)
        try built.save(engine: directory)
        let kernels = try FileManager.default.contentsOfDirectory(atPath: directory + "/cuda")
        #expect(kernels.contains { $0.hasPrefix("kiln-sm_") } && kernels.contains { $0.hasPrefix("kiln-elementwise-sm_") }, "\(kernels)")
        let (reference, _) = try Reference.load("qwen2-tied")
        var params = SamplingParams.greedy(maxTokens: 16)
        params.ignoreEOS = true
        let prompt = reference.prompts[0].input_ids
        let loaded = try LLM(model: directory, options: BuildOptions(kvCacheFraction: nil))
        #expect(loaded.deviceDescription.hasPrefix("cuda: "))
        #expect(try loaded.generate(prompt: prompt, params).outputIds == built.generate(prompt: prompt, params).outputIds)
    }

    /// Replaying captured decode graphs gives exactly the tokens of launching each kernel.
    @Test func cudaGraphsMatchEagerLaunches() throws {
        var eager = cudaBF16
        eager.cudaGraphs = false
        let (reference, _) = try Reference.load("llama-gqa")
        let prompt = reference.prompts[1].input_ids
        var params = SamplingParams.greedy(maxTokens: 32)
        params.ignoreEOS = true
        let replayed = try LLM(model: fixturesDirectory + "/llama-gqa", options: cudaBF16).generate(prompt: prompt, params).outputIds
        #expect(replayed == (try LLM(model: fixturesDirectory + "/llama-gqa", options: eager).generate(prompt: prompt, params).outputIds))
    }

    /// Every prompt of `fixture` continued greedily for 32 tokens (EOS ignored), each kernel
    /// launched on its own: the tokens graphs and the persistent kernel must reproduce.
    static func eagerContinuations(_ fixture: String) throws -> (prompts: [[Int32]], tokens: [[Int32]], params: SamplingParams) {
        var eager = cudaBF16
        eager.cudaGraphs = false
        var params = SamplingParams.greedy(maxTokens: 32)
        params.ignoreEOS = true
        let prompts = try Reference.load(fixture).0.prompts.map(\.input_ids)
        let llm = try LLM(model: fixturesDirectory + "/" + fixture, options: eager)
        return (prompts, try prompts.map { try llm.generate(prompt: $0, params).outputIds }, params)
    }

    /// One-row decode steps run as the persistent kernel on Hopper where asked (a Llama's every
    /// stage has one) and give the tokens of launching each kernel; a Qwen2's q|k|v bias keeps
    /// its kernels (cuBLASLt's epilogue) and the same tokens.
    @Test(arguments: ["llama-gqa", "qwen2-tied"])
    func persistentDecodeMatchesEagerLaunches(fixture: String) throws {
        var persistent = cudaBF16
        persistent.persistentDecode = true
        let eager = try Self.eagerContinuations(fixture)
        let llm = try LLM(model: fixturesDirectory + "/" + fixture, options: persistent)
        let tokens = try eager.prompts.map { try llm.generate(prompt: $0, eager.params).outputIds }
        #expect(tokens == eager.tokens, "\(fixture)")
        let cuda = try #require(llm.executable as? CUDAExecutable)
        let hopper = cuda.device.info.computeCapability.major >= 9
        #expect(cuda.decodesOneRowPersistently == (hopper && fixture == "llama-gqa"))
    }

    /// Where kernels are measured, decode graphs of few rows keep the fastest of three
    /// GEMV/cuBLASLt mixes (and Hopper merges attention splits in a cluster): every prompt's
    /// continuation, its tokens fed in and decoded batched together, gives the logits of
    /// launching each kernel one prompt at a time, within bf16 rounding. Tokens are fed, not
    /// compared: cuBLASLt adds in another order than the GEMV, so where the measured mix takes
    /// it, a near-tie may pick another token and the continuation then departs.
    @Test(arguments: ["llama-gqa", "qwen2-tied"])
    func measuredDecodeGraphsMatchEagerLaunches(fixture: String) throws {
        var measured = cudaBF16
        measured.autotune = true
        var launches = cudaBF16
        launches.cudaGraphs = false
        let (prompts, continuations, _) = try Self.eagerContinuations(fixture)
        let graphs = try LLM(model: fixturesDirectory + "/" + fixture, options: measured).executable
        let eager = try LLM(model: fixturesDirectory + "/" + fixture, options: launches).executable
        let width = graphs.vocabularySize, tokensPerBlock = graphs.kvCacheLayout.tokensPerBlock
        let blocksEach = (prompts.map(\.count).max()! + continuations[0].count + tokensPerBlock - 1) / tokensPerBlock
        func step(_ rows: [(sequence: Int, tokens: [Int32], cached: Int)]) -> StepInputs {
            StepInputs(sequences: rows.map { FlashPrefillTests.sequence($0.sequence, $0.tokens[...], after: $0.cached, blocksEach: blocksEach) },
                       tokensPerBlock: tokensPerBlock)
        }
        _ = try graphs.forward(step(prompts.enumerated().map { ($0, $1, 0) }))
        for (s, prompt) in prompts.enumerated() { _ = try eager.forward(step([(s, prompt, 0)])) }
        var rows = FlashPrefillTests.RowAgreement()
        for j in 0..<(continuations[0].count - 1) {
            let batched = try graphs.forward(step(prompts.indices.map { ($0, [continuations[$0][j]], prompts[$0].count + j) })).floats()
            for s in prompts.indices {
                let alone = try eager.forward(step([(s, [continuations[s][j]], prompts[s].count + j)])).floats()
                rows.add(Array(batched[(s * width)..<((s + 1) * width)]), expected: alone)
            }
        }
        rows.expectClose(fixture)
    }

    /// Decode steps, whose GEMVs compute their norms, residual adds and SwiGLU themselves,
    /// give the logits a prefill of the same tokens gives (cuBLASLt and separate kernels),
    /// within bf16 rounding.
    @Test(arguments: parityFixtures)
    func fusedDecodeMatchesPrefillInBF16(fixture: String) throws {
        let llm = try LLM(model: fixturesDirectory + "/" + fixture, options: cudaBF16)
        let executable = llm.executable
        let (reference, _) = try Reference.load(fixture)
        let prompt = reference.prompts[0]
        let prefill = try llm.promptLogits(prompt.input_ids + prompt.greedy_ids).floats()
        let width = executable.vocabularySize, tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        let count = prompt.input_ids.count + prompt.greedy_ids.count
        let blocks = (0..<((count + tokensPerBlock - 1) / tokensPerBlock)).map { Int32($0) }
        func step(_ tokens: [Int32], after cached: Int) -> StepInputs {
            StepInputs(sequences: [(tokens, SequenceStep(cachedTokens: cached, newTokens: tokens.count, blockTable: blocks))], tokensPerBlock: tokensPerBlock)
        }
        _ = try executable.forward(step(prompt.input_ids, after: 0))
        var agreeing = 0, worst: Float = 0
        for (j, token) in prompt.greedy_ids.enumerated() {
            let row = prompt.input_ids.count + j
            let decoded = try executable.forward(step([token], after: row)).floats()
            let expected = Array(prefill[(row * width)..<((row + 1) * width)])
            worst = max(worst, maxAbsoluteDifference(decoded, expected))
            if rowArgmax(decoded, 0, width) == rowArgmax(expected, 0, width) { agreeing += 1 }
        }
        #expect(agreeing >= prompt.greedy_ids.count - 2, "\(fixture): \(agreeing) of \(prompt.greedy_ids.count) argmaxes agree")
        #expect(worst < 0.1, "\(fixture): max |Δ| = \(worst)")
    }

    /// Batch invariance through the executor on the GPU (f32): staggered arrivals, mixed
    /// lengths and chunked prefill give each prompt the tokens it gets alone.
    @Test(arguments: parityFixtures)
    func staggeredArrivalsMatchSingleRunsInF32(fixture: String) async throws {
        try await ExecutorFixtureTests.staggeredArrivalsMatchSingleRuns(fixture: fixture, options: cudaF32)
    }

    /// A batch of sequences decoded together (graphs at padded sizes, split-K attention)
    /// gives each sequence the tokens it gets alone.
    @Test func batchedGreedyMatchesSingleRuns() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: BuildOptions(maxSequenceLength: 4096, backend: .cuda, kvCacheFraction: nil))
        let executable = llm.executable
        let (reference, _) = try Reference.load("llama-gqa")
        let prompts = (0..<5).map { reference.prompts[$0 % 3].input_ids + [Int32($0)] }
        let tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        let tables = (0..<5).map { s in (0..<4).map { Int32(s * 8 + 3 - $0) } }
        var last = try executable.forwardGreedy(StepInputs(sequences: prompts.indices.map { s in
            (prompts[s], SequenceStep(cachedTokens: 0, newTokens: prompts[s].count, blockTable: tables[s]))
        }, tokensPerBlock: tokensPerBlock))
        var outputs = last.map { [$0] }
        for step in 0..<15 {
            last = try executable.forwardGreedy(StepInputs(sequences: prompts.indices.map { s in
                ([last[s]], SequenceStep(cachedTokens: prompts[s].count + step, newTokens: 1, blockTable: tables[s]))
            }, tokensPerBlock: tokensPerBlock))
            for s in 0..<5 { outputs[s].append(last[s]) }
        }
        var params = SamplingParams.greedy(maxTokens: 16)
        params.ignoreEOS = true
        for s in 0..<5 { #expect(outputs[s] == (try llm.generate(prompt: prompts[s], params).outputIds), "sequence \(s)") }
    }

    /// Decode steps queued before the previous step's picks reach the host (the embedding reads
    /// them on the device) give the tokens of steps run one at a time.
    @Test func queuedAheadDecodeMatchesOneStepAtATime() throws {
        var options = cudaBF16
        options.maxSequenceLength = 4096
        let executable = try LLM(model: fixturesDirectory + "/llama-gqa", options: options).executable
        let (reference, _) = try Reference.load("llama-gqa")
        let prompts = (0..<5).map { reference.prompts[$0 % 3].input_ids + [Int32($0)] }
        let tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        func decode(firstBlock: Int, queuedAhead: Bool) throws -> [[Int32]] {
            let tables = (0..<5).map { s in (0..<4).map { Int32(firstBlock + s * 4 + $0) } }
            func step(_ tokens: [[Int32]], after cached: [Int]) -> StepInputs {
                StepInputs(sequences: tokens.indices.map { s in
                    (tokens[s], SequenceStep(cachedTokens: cached[s], newTokens: tokens[s].count, blockTable: tables[s]))
                }, tokensPerBlock: tokensPerBlock)
            }
            var last = try executable.forwardGreedy(step(prompts, after: [0, 0, 0, 0, 0]))
            var outputs = last.map { [$0] }, inFlight: QueuedStep?
            for i in 0..<15 {
                let next = step(last.map { [$0] }, after: prompts.map { $0.count + i })
                guard queuedAhead else {
                    last = try executable.forwardGreedy(next)
                    for s in 0..<5 { outputs[s].append(last[s]) }
                    continue
                }
                // the step's ids are stale: every row is fed the previous step's pick
                let queued = try executable.queue(next, choices: [], feeds: inFlight.map { TokenFeeds(source: $0, rows: [0, 1, 2, 3, 4]) })
                if let inFlight {
                    last = try executable.picks(of: inFlight)
                    for s in 0..<5 { outputs[s].append(last[s]) }
                }
                inFlight = queued
            }
            let final = try executable.picks(of: inFlight ?? executable.queue(step(last.map { [$0] }, after: prompts.map { $0.count + 15 }), choices: [], feeds: nil))
            if queuedAhead { for s in 0..<5 { outputs[s].append(final[s]) } }
            return outputs
        }
        #expect(try decode(firstBlock: 0, queuedAhead: false) == decode(firstBlock: 20, queuedAhead: true))
    }

    /// The batcher queueing each step ahead gives every request the tokens it gets one step at
    /// a time (f32: batch invariant), with GPU sampling, host picks and stops in the mix.
    @Test func batcherQueueingAheadMatchesOneStepAtATimeInF32() throws {
        var options = cudaF32
        options.maxSequenceLength = 1024
        options.limits = StepLimits(maxNumTokens: 16, maxBatchSize: 8)
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let (reference, _) = try Reference.load("llama-gqa")
        // the first prompt stops at its fourth greedy token
        let params = [
            SamplingParams(maxTokens: 12, stopTokenIds: [reference.prompts[0].greedy_ids[3]]), SamplingParams(temperature: 0.9, topK: 20, seed: 4, maxTokens: 10, n: 2),
            SamplingParams(maxTokens: 9, minTokens: 3), SamplingParams(temperature: 1.1, topP: 0.8, seed: 9, maxTokens: 14),
        ]
        func run(queuesAhead: Bool) throws -> [[[Int32]]] {
            let batcher = InFlightBatcher(executable: llm.executable, eosTokenIds: [], queuesAhead: queuesAhead)
            var ids: [SequenceID] = []
            for (i, prompt) in reference.prompts.enumerated() {
                ids.append(try batcher.submit(prompt: prompt.input_ids, params[i % params.count]))
                _ = try batcher.step()
            }
            let results = try batcher.runUntilIdle()
            return ids.map { results[$0]?.completions.map(\.outputIds) ?? [] }
        }
        #expect(try run(queuesAhead: true) == run(queuesAhead: false))
    }
}

/// Hugging Face's own answers in bf16 (Scripts/fixtures/make_bf16_references.py): per
/// prompt, the argmax of the logits at every position of prompt + greedy tokens and the gap
/// between the top two logits there.
struct HalfPrecisionReference: Decodable {
    struct Prompt: Decodable {
        let argmax: [Int]
        let gap: [Float]
        /// The tokens whose logit is within one bf16 step of the largest (argmax among them).
        let ties: [[Int]]
    }
    let prompts: [Prompt]

    static func load(_ fixture: String) throws -> HalfPrecisionReference {
        let path = fixturesDirectory + "/" + fixture + "/reference_bf16.json"
        return try JSONDecoder().decode(Self.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}

private func rowArgmax(_ values: [Float], _ row: Int, _ width: Int) -> Int {
    var best = row * width
    for i in (row * width)..<((row + 1) * width) where values[i] > values[best] { best = i }
    return best - row * width
}

/// Without a GPU, the CUDA backend is refused with what to install.
@Suite(.enabled(if: !gpuAvailable, "a GPU is visible")) struct NoGPUTests {
    @Test func cudaBackendWithoutAGPUSaysWhy() throws {
        #expect { try LLM(model: fixturesDirectory + "/llama-gqa", options: cudaF32) } throws: { error in
            let text = "\(error)"
            return text.contains("NVIDIA driver") || text.contains("no GPU")
        }
    }
}
