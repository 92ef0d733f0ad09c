// TokenChoice.pick computes its scaled logits and weights once and narrows the values each
// bisection step looks at; it must pick exactly what the plain definition picks — every
// step recounting and re-summing the whole row in vocabulary order — on rows with ties,
// -inf and NaN logits, at every mix of temperature, top-k and top-p.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnGraph
import Testing

@Suite struct TokenChoiceTests {
    /// The definition: thresholds by 32-step bisections over the whole row, then the draw.
    static func definedPick(_ choice: TokenChoice, _ logits: [Float]) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        guard choice.temperature > 0 else { return Int32(best) }
        let t = choice.temperature, top = logits[best] / t
        var floor = top
        for value in logits { floor = min(floor, value / t) }
        var keepFrom = floor
        if choice.topK > 0 && choice.topK < logits.count {
            var (low, high) = (floor, top + 1)
            for _ in 0..<TokenChoice.bisections {
                let middle = (low + high) / 2
                if logits.reduce(0, { $0 + ($1 / t >= middle ? 1 : 0) }) >= choice.topK { low = middle } else { high = middle }
            }
            keepFrom = low
        }
        func weight(_ logit: Float) -> Float { logit / t >= keepFrom ? expf(logit / t - top) : 0 }
        let total = logits.reduce(0) { $0 + weight($1) }
        var minimum: Float = 0
        if choice.topP < 1 {
            var (low, high): (Float, Float) = (0, 1.0000001)
            for _ in 0..<TokenChoice.bisections {
                let middle = (low + high) / 2
                let mass = logits.reduce(0) { $0 + (weight($1) >= middle ? weight($1) : 0) }
                if mass >= choice.topP * total { low = middle } else { high = middle }
            }
            minimum = low
        }
        let kept = logits.map { weight($0) >= minimum ? weight($0) : 0 }
        let target = choice.uniform * kept.reduce(0, +)
        var running: Float = 0
        for (i, w) in kept.enumerated() where w > 0 {
            running += w
            if target < running { return Int32(i) }
        }
        return Int32(best)
    }

    @Test func picksWhatTheDefinitionPicks() {
        var state: UInt64 = 12_345
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24)
        }
        var differing: [String] = []
        for trial in 0..<240 {
            let width = [7, 50, 1000, 5000][trial % 4], spread: Float = [0.5, 3, 12][trial % 3]
            var logits = (0..<width).map { _ in (next() - 0.5) * 2 * spread }
            // coarse values tie often; some rows carry masked (-inf) and NaN logits
            if trial % 5 == 0 { logits = logits.map { ($0 * 2).rounded() / 2 } }
            if trial % 7 == 0 { for i in stride(from: 1, to: width, by: 3) { logits[i] = -.infinity } }
            if trial % 11 == 0 { logits[width / 2] = .nan }
            let choice = TokenChoice(temperature: [0, 0.3, 0.7, 1, 1.6][trial % 5], topK: [0, 1, 3, 40, 900, 6000][trial % 6],
                                     topP: [1, 0.9, 0.5, 0.99, 0.05][trial % 5 == 4 ? 4 : trial % 4], uniform: next())
            let picked = logits.withUnsafeBufferPointer { choice.pick($0) }, defined = Self.definedPick(choice, logits)
            if picked != defined { differing.append("trial \(trial) (\(width) logits, \(choice)): \(picked), defined \(defined)") }
        }
        #expect(differing.isEmpty, "\(differing.prefix(5))")
    }
}
