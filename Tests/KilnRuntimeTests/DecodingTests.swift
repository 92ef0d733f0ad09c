// The generator and the in-flight batcher over a scripted executable whose logits are known:
// min tokens, stop token ids, n completions, logprobs, and which steps pick on the host.

#if canImport(Glibc)
import Glibc
#endif
import KilnGraph
import KilnRuntime
import KilnTensor
import Synchronization
import Testing

/// An executable whose logits row depends only on the sequence's last token `t`: the next
/// token (t + 1) % 7 scores 3, the end token 7 scores 5 after a 2 (else 1), the rest 0. Greedy
/// from [0] goes 1, 2, 7. It counts the steps that returned logits and those that picked.
final class ScriptedExecutable: Executable {
    let kvCacheLayout = KVCacheLayout(numLayers: 1, numKVHeads: 1, headDim: 1, tokensPerBlock: 4, numBlocks: 64)
    let vocabularySize = 8
    let limits = StepLimits(maxNumTokens: 32, maxBatchSize: 8)
    let steps = Mutex((logits: 0, picked: 0))

    static let end: Int32 = 7

    static func row(after token: Int32) -> [Float] {
        var row = [Float](repeating: 0, count: 8)
        row[Int((token + 1) % 7)] = 3
        row[7] = token == 2 ? 5 : 1
        return row
    }

    private func rows(_ step: StepInputs) -> [Float] {
        var end = 0
        return step.sequences.flatMap { sequence in
            end += sequence.newTokens
            return Self.row(after: step.tokenIds[end - 1])
        }
    }

    func forward(_ step: StepInputs) throws -> HostTensor {
        steps.withLock { $0.logits += 1 }
        return HostTensor(rows(step), shape: [step.numSeqs, vocabularySize])
    }

    func forward(_ step: StepInputs, choices: [TokenChoice]) throws -> [Int32] {
        steps.withLock { $0.picked += 1 }
        let values = rows(step)
        return values.withUnsafeBufferPointer { all in
            (0..<step.numSeqs).map { choices[$0].pick(UnsafeBufferPointer(rebasing: all[($0 * 8)..<(($0 + 1) * 8)])) }
        }
    }
}

@Suite struct DecodingTests {
    func generate(_ params: SamplingParams, eos: [Int] = [7], queuesAhead: Bool = true) throws -> (GenerationResult, logits: Int, picked: Int) {
        let executable = ScriptedExecutable()
        let batcher = InFlightBatcher(executable: executable, eosTokenIds: eos, queuesAhead: queuesAhead)
        let id = try batcher.submit(prompt: [0], params)
        let result = try #require(try batcher.runUntilIdle()[id])
        let steps = executable.steps.withLock { $0 }
        return (result, steps.logits, steps.picked)
    }

    @Test func plainRequestsPickOnTheBackend() throws {
        let (result, logits, picked) = try generate(.greedy(maxTokens: 8))
        #expect(result.outputIds == [1, 2, 7] && result.finishReason == .stop)
        // the step queued after the end token's pick (before it reached the host) runs, and is dropped
        #expect(logits == 0 && picked == 4)
        let (alone, _, pickedAlone) = try generate(.greedy(maxTokens: 8), queuesAhead: false)
        #expect(alone.outputIds == result.outputIds && pickedAlone == 3)
    }

    @Test func minTokensSuppressesTheEndUntilThenOnTheHostOnly() throws {
        // after 2 the end token (5) is suppressed while fewer than 3 were generated: 3 instead;
        // then the walk 4, 5, 6, 0, 1, 2 reaches the end token again
        let (result, logits, picked) = try generate(SamplingParams(maxTokens: 16, minTokens: 3))
        #expect(result.outputIds == [1, 2, 3, 4, 5, 6, 0, 1, 2, 7] && result.finishReason == .stop)
        #expect(logits == 3 && picked == 8)
    }

    @Test func stopTokenIdsEndLikeEndOfSequence() throws {
        let (result, _, _) = try generate(SamplingParams(maxTokens: 8, stopTokenIds: [5]), eos: [])
        #expect(result.outputIds == [1, 2, 7, 1, 2, 7, 1, 2] && result.finishReason == .length)
        let (stopped, _, _) = try generate(SamplingParams(maxTokens: 8, ignoreEOS: true, stopTokenIds: [2]))
        #expect(stopped.outputIds == [1, 2] && stopped.finishReason == .stop)
    }

    @Test func logprobsComeFromTheProcessedRow() throws {
        // greedy with bias +4 on token 0: the first row (after 0) is [4, 3, 0, …, 1]: token 0 wins
        let (result, logits, picked) = try generate(SamplingParams(maxTokens: 2, logitBias: [0: 4], logprobs: 1))
        #expect(result.outputIds == [0, 0] && logits == 2 && picked == 0)
        // log softmax: 4 − log(e^4 + e^3 + 5·e^0 + e^1)
        let expected: Double = 4 - log(exp(4.0) + exp(3.0) + 5 + exp(1.0))
        let entries = try #require(result.completions[0].logprobs)
        #expect(entries.count == 2 && entries.allSatisfy { abs(Double($0.logprob) - expected) < 1e-5 })
        #expect(entries[0].top.map(\.token) == [0])
    }

    @Test func completionsHaveTheirOwnReproducibleStreams() throws {
        let params = SamplingParams(temperature: 1.5, seed: 7, maxTokens: 10, ignoreEOS: true, n: 4)
        let (first, _, _) = try generate(params)
        let (again, _, _) = try generate(params)
        #expect(first.completions.count == 4)
        #expect(first.completions.map(\.outputIds) == again.completions.map(\.outputIds))
        #expect(Set(first.completions.map(\.outputIds)).count == 4)
        // the first completion samples as a request of one does
        var one = params
        one.n = 1
        #expect(try generate(one).0.outputIds == first.outputIds)
    }

    @Test func theBatcherPicksEveryRowOnTheHostWhenOneNeedsLogits() throws {
        let executable = ScriptedExecutable()
        let batcher = InFlightBatcher(executable: executable, eosTokenIds: [7])
        let sampled = SamplingParams(temperature: 1, seed: 3, maxTokens: 6, ignoreEOS: true)
        let plain = try batcher.submit(prompt: [0], sampled)
        let penalized = try batcher.submit(prompt: [0], SamplingParams(maxTokens: 6, repetitionPenalty: 3, n: 2))
        let results = try batcher.runUntilIdle()
        // steps 1–4 hold a penalized completion (the two others join at step 2, finish at 4):
        // logits, every row picked on the host; steps 5 and 6 hold the plain one alone
        #expect(executable.steps.withLock { $0 } == (logits: 4, picked: 2))
        // the plain request's tokens are those it gets alone, on the backend
        let (alone, _, picked) = try generate(sampled)
        #expect(results[plain]?.outputIds == alone.outputIds && picked == 6)
        // greedy with the repetition penalty 3: after 0 (seen) → 1; row after 1 [0, 0, 3, 0, …, 1]: 2;
        // after 2 the end token (5) → 7: stop. Both completions are greedy, so equal.
        #expect(results[penalized]?.completions.map(\.outputIds) == [[1, 2, 7], [1, 2, 7]])
        #expect(results[penalized]?.completions.map(\.finishReason) == [.stop, .stop])
    }
}
