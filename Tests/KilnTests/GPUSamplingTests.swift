// The GPU's sampled picks at real vocabulary sizes, against TokenChoice.pick on the host:
// a 128k vocabulary, which a thread block cluster shares on Hopper, and one too wide for a
// cluster's shared memory, which takes the one-block-a-row kernel. The GPU adds its sums in
// another order than the host, so where the two picks differ, the GPU's must still be the
// token the draw lands on within float rounding of the host's running sums.

import Foundation
import Kiln
import KilnGraph
import Testing

@Suite(.enabled(if: gpuAvailable, "no GPU visible"), .serialized) struct GPUSamplingTests {
    static let choices = [
        TokenChoice(temperature: 0.7, uniform: 0.3), TokenChoice(temperature: 1, topK: 5, uniform: 0.9),
        TokenChoice(temperature: 1, topK: 1, uniform: 0.6), TokenChoice(temperature: 1.1, topK: 1000, uniform: 0.45),
        TokenChoice(temperature: 0.8, topK: 100_000, uniform: 0.7), TokenChoice(temperature: 1.3, topP: 0.8, uniform: 0.55),
        TokenChoice(temperature: 1, topP: 0.2, uniform: 0.95), TokenChoice(temperature: 0.9, topK: 50, topP: 0.9, uniform: 0.01),
        TokenChoice(temperature: 2, uniform: 0.999), TokenChoice(temperature: 1.5, topP: 0.99, uniform: 0.5),
    ]

    /// Three rows a step, each with its own choice (and a greedy row among them).
    func expectHostPicks(vocabulary: Int) throws {
        let shape = FlashPrefillTests.Shape(headDim: 64, heads: 2, kvHeads: 1, hidden: 64, intermediate: 128, vocabulary: vocabulary, logitScale: 0.8)
        let executable = try FlashPrefillTests.randomLlama(shape).executable
        let tokensPerBlock = executable.kvCacheLayout.tokensPerBlock
        let prompts: [[Int32]] = [[5, 17, 300, 2], [9], [44, 45, 46, 47, 48, 49]]
        let step = StepInputs(sequences: prompts.enumerated().map { s, prompt in
            (prompt, SequenceStep(cachedTokens: 0, newTokens: prompt.count, blockTable: [Int32(s)]))
        }, tokensPerBlock: tokensPerBlock)
        let logits = try executable.forward(step).floats()
        #expect(logits.count == 3 * vocabulary)
        var exact = 0
        for (i, choice) in Self.choices.enumerated() {
            let rows = [choice, .greedy, Self.choices[(i + 1) % Self.choices.count]]
            let picks = try executable.forward(step, choices: rows)
            for (row, rowChoice) in rows.enumerated() {
                let rowLogits = Array(logits[(row * vocabulary)..<((row + 1) * vocabulary)])
                let host = rowLogits.withUnsafeBufferPointer { rowChoice.pick($0) }
                if picks[row] == host { exact += 1; continue }
                expectDrawLands(on: Int(picks[row]), rowLogits, rowChoice, host: Int(host))
            }
        }
        // the greedy rows, and most sampled ones, agree to the token
        #expect(exact >= 2 * Self.choices.count, "\(exact) of \(3 * Self.choices.count) picks equal the host's")
    }

    /// `pick` is kept by `choice` and its span of the kept tokens' running mass (in vocabulary
    /// order, in f64) holds the draw's target, within f32 rounding of the host's sums.
    func expectDrawLands(on pick: Int, _ logits: [Float], _ choice: TokenChoice, host: Int) {
        let scaled = logits.map { Double($0 / choice.temperature) }, top = scaled.max()!
        var weights = scaled.map { exp($0 - top) }
        if choice.topK > 0 && choice.topK < logits.count {
            let kth = scaled.sorted(by: >)[choice.topK - 1]
            weights = zip(scaled, weights).map { $0 >= kth ? $1 : 0 }
        }
        if choice.topP < 1 {
            let total = weights.reduce(0, +)
            var mass = 0.0, minimum = 0.0
            for w in weights.sorted(by: >) where mass < Double(choice.topP) * total {
                mass += w
                minimum = w
            }
            weights = weights.map { $0 >= minimum * (1 - 1e-5) ? $0 : 0 }
        }
        let total = weights.reduce(0, +), target = Double(choice.uniform) * total
        let before = weights[..<pick].reduce(0, +), tolerance = 1e-4 * total
        #expect(weights[pick] > 0 && before - tolerance <= target && target < before + weights[pick] + tolerance,
                "\(choice): GPU picked \(pick) (mass before it \(before / total), its own \(weights[pick] / total)), host \(host)")
    }

    /// A 128k vocabulary, as Llama 3's: on Hopper, a cluster of blocks shares each row.
    @Test func clusteredPicksAtALlamaVocabulary() throws {
        try expectHostPicks(vocabulary: 128_256)
    }

    /// A vocabulary too wide for a cluster's shared memory: one block a row.
    @Test func oneBlockPicksAtAVeryWideVocabulary() throws {
        try expectHostPicks(vocabulary: 400_000)
    }
}
