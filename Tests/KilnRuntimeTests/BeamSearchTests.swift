// Beam search bookkeeping: scores and stopping worked out by hand on the scripted executable,
// the search's rules on rows given directly, and the KV blocks the beams share and give back.

#if canImport(Glibc)
import Glibc
#endif
import KilnGraph
@testable import KilnRuntime
import KilnTensor
import Synchronization
import Testing

/// ScriptedExecutable's logits (by last token), recording every step it runs.
final class RecordingExecutable: Executable {
    let kvCacheLayout = KVCacheLayout(numLayers: 1, numKVHeads: 1, headDim: 1, tokensPerBlock: 4, numBlocks: 64)
    let vocabularySize = 8
    let limits = StepLimits(maxNumTokens: 32, maxBatchSize: 8)
    let steps = Mutex<[StepInputs]>([])

    func forward(_ step: StepInputs) throws -> HostTensor {
        steps.withLock { $0.append(step) }
        var end = 0
        let rows = step.sequences.flatMap { sequence in
            end += sequence.newTokens
            return ScriptedExecutable.row(after: step.tokenIds[end - 1])
        }
        return HostTensor(rows, shape: [step.numSeqs, vocabularySize])
    }
}

@Suite struct BeamSearchTests {
    // ScriptedExecutable's rows as log-probabilities: after a token other than 2, the next
    // token (t + 1) % 7 has logit 3, the end token 7 logit 1, the six others 0; after 2 the end
    // token has 5 and 3 has 3.
    static let total = log(exp(3.0) + exp(1.0) + 6)
    static let next = 3 - total, end = 1 - total, other = -total
    static let totalAfter2 = log(exp(5.0) + exp(3.0) + 6)
    static let endAfter2 = 5 - totalAfter2, threeAfter2 = 3 - totalAfter2

    func search(_ params: SamplingParams, prompt: [Int32] = [0]) throws -> (GenerationResult, steps: [StepInputs], batcher: InFlightBatcher) {
        let executable = RecordingExecutable()
        let batcher = InFlightBatcher(executable: executable, eosTokenIds: [7])
        let result = try batcher.runBeamSearch(prompt: prompt, params)
        return (result, executable.steps.withLock { $0 }, batcher)
    }

    func expectScores(_ result: GenerationResult, _ expected: [Double]) {
        let scores = result.completions.compactMap(\.score)
        #expect(scores.count == expected.count && zip(scores, expected).allSatisfy { abs(Double($0) - $1) < 1e-5 }, "\(scores) vs \(expected)")
    }

    /// Two beams from [0], 4 tokens at most. Step 1: [1] runs on, [7] finishes (−2.36 / 1), [0]
    /// is the second runner. Step 2: [1, 7] finishes (/ 2). Step 3: [1, 2, 7] finishes (/ 3) and
    /// pushes out [7]; the best runner [1, 2, 3] (−2.88 / 3) could still beat [1, 7] (−1.36).
    /// Step 4 ends every beam at the length limit: [1, 2, 3, 4] (/ 4) beats [1, 7].
    @Test func scoresAreLogprobSumsOverTheGeneratedLengthWithTheEndToken() throws {
        let (result, steps, batcher) = try search(SamplingParams(maxTokens: 4, n: 2, beamWidth: 2))
        #expect(result.completions.map(\.outputIds) == [[1, 2, 7], [1, 2, 3, 4]])
        #expect(result.completions.map(\.finishReason) == [.stop, .length])
        expectScores(result, [(2 * Self.next + Self.endAfter2) / 3, (3 * Self.next + Self.threeAfter2) / 4])
        #expect(steps.count == 4 && batcher.cacheStatistics.usedBlocks == 0)
    }

    @Test func earlyStoppingEndsOnceBeamWidthHypothesesFinished() throws {
        // [7] and [1, 7] have finished after step 2
        let (result, steps, _) = try search(SamplingParams(maxTokens: 4, n: 2, beamWidth: 2, earlyStopping: .enabled))
        #expect(result.completions.map(\.outputIds) == [[1, 7], [7]])
        expectScores(result, [(Self.next + Self.end) / 2, Self.end])
        #expect(steps.count == 2)
    }

    @Test func theHeuristicStopsWhenNoRunnerCanBeatTheWorstHypothesis() throws {
        // no length normalization: after step 3 the finished [1, 2, 7] and [7] beat the best
        // runner [1, 2, 3] (2 · next + threeAfter2), which can only lose more
        let (result, steps, _) = try search(SamplingParams(maxTokens: 10, n: 2, beamWidth: 2, lengthPenalty: 0))
        #expect(result.completions.map(\.outputIds) == [[1, 2, 7], [7]])
        expectScores(result, [2 * Self.next + Self.endAfter2, Self.end])
        #expect(steps.count == 3)
    }

    @Test func minTokensKeepsTheEndTokenFromTheFirstSteps() throws {
        let (result, _, _) = try search(SamplingParams(maxTokens: 4, minTokens: 2, n: 2, beamWidth: 2))
        #expect(result.completions.allSatisfy { $0.outputIds.count > 2 || $0.outputIds.last != 7 })
        #expect(result.completions.map(\.outputIds) == [[1, 2, 7], [1, 2, 3, 4]])
    }

    @Test func theBestBeamsComeBackFirstWithTheirTokensStreamed() throws {
        let executor = Executor(executable: RecordingExecutable(), eosTokenIds: [7])
        defer { executor.shutdown() }
        var streamed: [[Int32]] = [[], []]
        let result = try executor.generate(prompt: [0], SamplingParams(maxTokens: 4, n: 2, beamWidth: 4)) { token in
            streamed[token.completion].append(token.id)
            return true
        }
        #expect(result.completions.count == 2 && streamed == result.completions.map(\.outputIds))
        #expect(result.completions[0].score! >= result.completions[1].score!)
    }

    /// A beam search submitted while another request runs: the executor runs the search
    /// between two steps on the same KV pool, and each request gets what it gets alone.
    @Test func theExecutorRunsABeamSearchBetweenStepsOfTheRunningBatch() async throws {
        let beams = SamplingParams(maxTokens: 4, n: 2, beamWidth: 2), greedy = SamplingParams.greedy(maxTokens: 6)
        let aloneBatcher = InFlightBatcher(executable: RecordingExecutable(), eosTokenIds: [7])
        let aloneBeams = try aloneBatcher.runBeamSearch(prompt: [0], beams)
        let greedyID = try aloneBatcher.submit(prompt: [0, 1], greedy)
        let aloneGreedy = try #require(try aloneBatcher.runUntilIdle()[greedyID])

        let executor = Executor(executable: RecordingExecutable(), eosTokenIds: [7])
        let running = executor.submit(prompt: [0, 1], greedy)
        let searched = executor.submit(prompt: [0], beams)
        let beamResult = try #require(try await collect(searched).result), greedyResult = try #require(try await collect(running).result)
        #expect(beamResult.completions.map(\.outputIds) == aloneBeams.completions.map(\.outputIds))
        #expect(beamResult.completions.map(\.score) == aloneBeams.completions.map(\.score))
        #expect(greedyResult.outputIds == aloneGreedy.outputIds)
        #expect(executor.cacheStatistics.usedBlocks == 0)
        await executor.shutdown()
    }

    /// Prompt [0, 1, 2, 3, 4, 5] fills one block of 4 and two slots of the next. Step 2 runs
    /// the two beams together: the first continues the prompt's sequence with its new token,
    /// the second forks it, sharing the full block and recomputing only [4, 5] and its token.
    @Test func forkedBeamsShareFullBlocksAndRecomputeOnlyTheTail() throws {
        let params = SamplingParams(maxTokens: 6, ignoreEOS: true, n: 2, beamWidth: 2)
        let (_, steps, batcher) = try search(params, prompt: [0, 1, 2, 3, 4, 5])
        #expect(steps[0].sequences.map { $0.newTokens } == [6])
        let kept = steps[1].sequences[0], forked = steps[1].sequences[1]
        #expect(kept.cachedTokens == 6 && kept.newTokens == 1)
        #expect(forked.cachedTokens == 4 && forked.newTokens == 3)
        #expect(Array(steps[1].tokenIds[1..<3]) == [4, 5])
        #expect(forked.blockTable[0] == kept.blockTable[0] && forked.blockTable[1] != kept.blockTable[1])
        // every later step: one token per beam, or a fork's tail (less than a block) and its token
        for step in steps.dropFirst() {
            #expect(step.numSeqs == 2)
            for sequence in step.sequences {
                let isDecode = sequence.newTokens == 1
                let isFork = sequence.cachedTokens % 4 == 0 && sequence.newTokens <= 4
                #expect(isDecode || isFork)
            }
        }
        #expect(batcher.cacheStatistics.usedBlocks == 0)
    }

    @Test func theBatcherRunsBeamSearchOnlyBetweenSteps() {
        let batcher = InFlightBatcher(executable: RecordingExecutable(), eosTokenIds: [7])
        #expect(throws: GenerationError.beamSearchNotBatched) {
            try batcher.submit(prompt: [0], SamplingParams(beamWidth: 2))
        }
    }

    @Test func aPoolTooSmallForTheBeamsIsAClearErrorAndGivesItsBlocksBack() throws {
        final class Tiny: Executable {
            let inner = RecordingExecutable()
            let kvCacheLayout = KVCacheLayout(numLayers: 1, numKVHeads: 1, headDim: 1, tokensPerBlock: 4, numBlocks: 4)
            var vocabularySize: Int { inner.vocabularySize }
            var limits: StepLimits { inner.limits }
            func forward(_ step: StepInputs) throws -> HostTensor { try inner.forward(step) }
        }
        let batcher = InFlightBatcher(executable: Tiny(), eosTokenIds: [])
        // 8 beams of 9 tokens need more than 4 blocks of 4
        #expect(throws: GenerationError.kvCacheFullForBeams(beamWidth: 8)) {
            try batcher.runBeamSearch(prompt: [0, 1, 2, 3, 4], SamplingParams(maxTokens: 4, beamWidth: 8))
        }
        #expect(batcher.cacheStatistics.usedBlocks == 0)
    }
}

/// The search's rules on log-probability rows given directly.
@Suite struct BeamSearchRuleTests {
    @Test func candidatesAreOrderedAsTorchTopKOrdersTies() {
        var search = BeamSearch(width: 2, lengthPenalty: 1, earlyStopping: .heuristic, maxTokens: 5, endTokenIds: [])
        #expect(search.candidatesKept == 4)
        // all equal: the lower token first, and the second beam (excluded at first) never
        #expect(search.advance(logprobs: Array(repeating: [-1, -1, -1, -1], count: 2)) == [0, 0])
        #expect(search.running.map(\.output) == [[0], [1]])
        // equal scores across beams: the lower beam first
        let top = search.topCandidates(Array(repeating: [-1, -1, -1, -1], count: 2))
        #expect(top.map(\.beam) == [0, 0, 0, 0] && top.map(\.token) == [0, 1, 2, 3])
    }

    @Test func onlyEndsAmongTheFirstBeamWidthCandidatesFinish() {
        var search = BeamSearch(width: 1, lengthPenalty: 1, earlyStopping: .heuristic, maxTokens: 5, endTokenIds: [2])
        // the end token is the second candidate: outside the top 1, it is dropped
        #expect(search.advance(logprobs: [[-0.1, -3, -0.2]]) == [0])
        #expect(search.finished.isEmpty && search.running.map(\.output) == [[0]])
        // now the best: finishes with its length (2, the end token counted) as the divisor
        _ = search.advance(logprobs: [[-3, -2, -0.5]])
        #expect(search.finished.map(\.output) == [[0, 2]] && abs(search.finished[0].score - (-0.6 / 2)) < 1e-6)
    }

    @Test func theLengthPenaltyIsAnExponentOfTheGeneratedLength() {
        var search = BeamSearch(width: 1, lengthPenalty: 2, earlyStopping: .enabled, maxTokens: 5, endTokenIds: [2])
        _ = search.advance(logprobs: [[-1, -3, -4]])
        _ = search.advance(logprobs: [[-3, -3, -0.5]])
        #expect(search.isDone && abs(search.finished[0].score - (-1.5 / 4)) < 1e-6)
    }

    @Test func moreEndIdsKeepMoreCandidates() {
        let search = BeamSearch(width: 3, lengthPenalty: 1, earlyStopping: .heuristic, maxTokens: 5, endTokenIds: [1, 2, 3])
        #expect(search.candidatesKept == 12)
    }

    /// [2] finishes at −0.5; the runner [0] has −1. Judged at its length (1) it cannot win;
    /// judged at max tokens (5, `never` with a positive penalty) it could (−1 / 5 > −0.5).
    @Test func neverJudgesTheRunnersAtTheLengthLimit() {
        for (stopping, done) in [(EarlyStopping.heuristic, true), (.never, false), (.enabled, true)] {
            var search = BeamSearch(width: 1, lengthPenalty: 1, earlyStopping: stopping, maxTokens: 5, endTokenIds: [2])
            _ = search.advance(logprobs: [[-1, -5, -0.5]])
            #expect(search.isDone == done, "\(stopping)")
            #expect(search.finished.map(\.output) == [[2]])
        }
        // with a negative penalty even `never` judges at the current length
        var search = BeamSearch(width: 1, lengthPenalty: -1, earlyStopping: .never, maxTokens: 5, endTokenIds: [2])
        _ = search.advance(logprobs: [[-1, -5, -0.5]])
        #expect(search.isDone)
    }
}
