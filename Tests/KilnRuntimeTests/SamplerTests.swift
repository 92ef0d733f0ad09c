import KilnGraph
#if canImport(Glibc)
import Glibc
#endif
import KilnRuntime
import Testing

@Suite struct SamplerTests {
    let logits: [Float] = [1.0, 3.0, 2.5, -1.0, 0.5, 2.9]

    func draws(_ params: SamplingParams, count: Int = 2000) -> [Int32: Int] {
        var sampler = Sampler(params)
        var histogram: [Int32: Int] = [:]
        logits.withUnsafeBufferPointer { row in
            for _ in 0..<count { histogram[sampler.sample(row).token, default: 0] += 1 }
        }
        return histogram
    }

    @Test func greedyTakesTheFirstLargest() {
        #expect(draws(SamplingParams(), count: 5) == [1: 5])
        var tie: [Float] = [0, 2, 2]
        #expect(tie.withUnsafeMutableBufferPointer { TokenChoice.greedy.pick(UnsafeBufferPointer($0)) } == 1)
    }

    @Test func topKKeepsOnlyTheKMostLikely() {
        let histogram = draws(SamplingParams(temperature: 1, topK: 2, seed: 3))
        #expect(Set(histogram.keys) == [1, 5])
    }

    @Test func topPKeepsTheSmallestSetReachingP() {
        // softmax of the logits: token 1 ≈ 0.36, 5 ≈ 0.33, 2 ≈ 0.22; 0.36 + 0.33 < 0.8 ≤ + 0.22
        let histogram = draws(SamplingParams(temperature: 1, topP: 0.8, seed: 4))
        #expect(Set(histogram.keys) == [1, 5, 2])
    }

    @Test func frequenciesFollowTheSoftmax() {
        let histogram = draws(SamplingParams(temperature: 1, seed: 11), count: 20000)
        let top = logits.max()!
        let weights = logits.map { expf($0 - top) }
        let total = weights.reduce(0, +)
        for (token, weight) in weights.enumerated() {
            let observed = Float(histogram[Int32(token), default: 0]) / 20000
            #expect(abs(observed - weight / total) < 0.015, "token \(token)")
        }
    }

    @Test func lowTemperatureSharpens() {
        // logits / 0.01: the runner-up trails by 10, so it wins with p ≈ 5e-5
        let histogram = draws(SamplingParams(temperature: 0.01, seed: 2))
        #expect(histogram[1, default: 0] > 1990)
    }

    @Test func sameSeedSameDraws() {
        let params = SamplingParams(temperature: 0.9, seed: 42)
        var a = Sampler(params), b = Sampler(params)
        logits.withUnsafeBufferPointer { row in
            for _ in 0..<100 { #expect(a.sample(row).token == b.sample(row).token) }
        }
    }

    @Test func invalidParametersNameTheField() {
        #expect(throws: SamplingError.invalid(field: "top_p", value: "0.0", expected: "a number in (0, 1]")) {
            try SamplingParams(topP: 0).validate()
        }
        #expect(throws: SamplingError.self) { try SamplingParams(temperature: -1).validate() }
        #expect(throws: SamplingError.self) { try SamplingParams(topK: -2).validate() }
        #expect(throws: SamplingError.self) { try SamplingParams(maxTokens: 0).validate() }
    }
}
