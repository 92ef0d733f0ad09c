// The processors and warpers against distributions worked out by hand.

#if canImport(Glibc)
import Glibc
#endif
import KilnGraph
import KilnRuntime
import Testing

@Suite struct LogitsProcessingTests {
    @Test func biasThenPenaltiesOnTheRawLogits() {
        // prompt [0, 4]; generated 1, 1, 3 (counts 1: 2, 3: 1)
        var history = TokenHistory(prompt: [0, 4])
        for token: Int32 in [1, 1, 3] { history.record(token) }
        let params = SamplingParams(repetitionPenalty: 2, presencePenalty: 0.5, frequencyPenalty: 0.25, logitBias: [0: 1, 2: 1])
        var logits: [Float] = [1, 2, -1, 0.5, -2]
        params.process(&logits, history: history)
        // bias:        [2,   2,  0,  0.5,  -2]
        // repetition over {0, 1, 3, 4}: positive / 2, negative × 2 → [1, 1, 0, 0.25, -4]
        // presence/frequency over the output: 1 −= 0.5 + 0.25·2, 3 −= 0.5 + 0.25·1
        #expect(logits == [1, 0, 0, -0.5, -4])
    }

    @Test func suppressedIdsGetMinusInfinity() {
        var logits: [Float] = [1, 5, 2]
        SamplingParams(logitBias: [1: 3]).process(&logits, history: TokenHistory(), suppressed: [1])
        #expect(logits == [1, -.infinity, 2])
    }

    @Test func temperatureThenTopK() {
        // logits / 0.5 = [4, 2, 0, -2]; top-2 keeps tokens 0 and 1: weights 1 and e^-2
        let distribution = SamplingDistribution([2, 1, 0, -1], params: SamplingParams(temperature: 0.5, topK: 2))
        let total = 1 + expf(-2)
        #expect(abs(distribution.logprob(of: 0) - logf(1 / total)) < 1e-6)
        #expect(abs(distribution.logprob(of: 1) - logf(expf(-2) / total)) < 1e-6)
        #expect(distribution.logprob(of: 2) == -.infinity && distribution.logprob(of: 3) == -.infinity)
    }

    @Test func topPKeepsTheSmallestSetReachingP() {
        // softmax [2, 1, 0, -1] ≈ [0.644, 0.237, 0.087, 0.032]: 0.644 + 0.237 < 0.9 ≤ + 0.087
        let distribution = SamplingDistribution([2, 1, 0, -1], params: SamplingParams(temperature: 1, topP: 0.9))
        #expect(distribution.weights.map { $0 > 0 } == [true, true, true, false])
        let total = 1 + expf(-1) + expf(-2)
        #expect(abs(distribution.logprob(of: 2) - logf(expf(-2) / total)) < 1e-6)
    }

    @Test func minPComesAfterTopP() {
        // probabilities 0.5, 0.3, 0.2. top-p 0.6 keeps {0, 1} (0.5 < 0.6 ≤ 0.8); min-p 0.5 drops
        // below 0.25, so {0, 1} stay: 0.625 and 0.375. (Min-p first would leave 0.625 and
        // 0.375, and top-p 0.6 would then keep token 0 alone.)
        let logits = [logf(0.5), logf(0.3), logf(0.2)]
        let distribution = SamplingDistribution(logits, params: SamplingParams(temperature: 1, topP: 0.6, minP: 0.5))
        #expect(abs(distribution.logprob(of: 0) - logf(0.625)) < 1e-5)
        #expect(abs(distribution.logprob(of: 1) - logf(0.375)) < 1e-5)
        #expect(distribution.logprob(of: 2) == -.infinity)
        // the draw walks the kept tokens in vocabulary order: [0, 0.625) → 0, [0.625, 1) → 1
        #expect(distribution.pick(uniform: 0.6) == 0 && distribution.pick(uniform: 0.7) == 1)
    }

    @Test func minPAloneKeepsTokensNearTheTop() {
        // weights relative to the top: 1, e^-1 ≈ 0.37, e^-2 ≈ 0.14, e^-3 ≈ 0.05; min-p 0.2 keeps two
        let distribution = SamplingDistribution([2, 1, 0, -1], params: SamplingParams(temperature: 1, minP: 0.2))
        #expect(distribution.weights.map { $0 > 0 } == [true, true, false, false])
    }

    @Test func logprobsAreTheLogSoftmaxOfTheRowTopNSorted() {
        // greedy: log softmax at temperature 1; logsumexp [0, 2, -1, 1] = 2 + log(1 + e^-1 + e^-2 + e^-3) ≈ 2.44019
        let distribution = SamplingDistribution([0, 2, -1, 1], params: .greedy(maxTokens: 1))
        #expect(distribution.pick(uniform: 0.99) == 1)
        let logprobs = distribution.logprobs(of: 1, top: 3)
        #expect(logprobs.token == 1 && abs(logprobs.logprob + 0.44019) < 1e-4)
        #expect(logprobs.top.map(\.token) == [1, 3, 0])
        for (entry, expected) in zip(logprobs.top, [-0.44019, -1.44019, -2.44019] as [Float]) { #expect(abs(entry.logprob - expected) < 1e-4) }
        // ties: the lower id first
        #expect(SamplingDistribution([1, 1, 0], params: .greedy(maxTokens: 1)).logprobs(of: 0, top: 2).top.map(\.token) == [0, 1])
    }

    @Test func theExactWarpersPickWhatTokenChoicePicks() {
        let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 0.5, 2.9]
        for params in [SamplingParams(temperature: 0.8, topK: 3), SamplingParams(temperature: 1.2, topP: 0.7), SamplingParams(temperature: 1, topK: 4, topP: 0.9)] {
            let distribution = SamplingDistribution(logits, params: params)
            for step in 0..<200 {
                let uniform = Float(step) / 200
                let choice = TokenChoice(temperature: params.temperature, topK: params.topK, topP: params.topP, uniform: uniform)
                #expect(logits.withUnsafeBufferPointer { choice.pick($0) } == distribution.pick(uniform: uniform), "\(params) u=\(uniform)")
            }
        }
    }
}
