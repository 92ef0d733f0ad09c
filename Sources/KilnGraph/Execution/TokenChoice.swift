// How a step's output rows become tokens when the backend picks them: the sampling
// parameters of each row and a uniform draw from the caller's random stream, so a seed gives
// the same tokens on every backend.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How one output row's token is chosen.
public struct TokenChoice: Hashable, Sendable {
    /// 0 picks the most likely token; otherwise logits are divided by it before the draw.
    public var temperature: Float
    /// Keep the k most likely tokens (ties with the k-th stay); 0 keeps all.
    public var topK: Int
    /// Keep the most likely tokens until their probability reaches p (ties at the edge stay).
    public var topP: Float
    /// A uniform draw in [0, 1): the token whose cumulative probability (in vocabulary
    /// order, over the kept tokens) first exceeds it is chosen.
    public var uniform: Float

    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, uniform: Float = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.uniform = uniform
    }

    public static let greedy = TokenChoice()

    /// The token this choice picks from `logits`, computed on the host the way Kiln's GPU
    /// kernel does (thresholds by bisection, then a draw in vocabulary order).
    public func pick(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in logits.indices where logits[i] > logits[best] { best = i }
        guard temperature > 0 else { return Int32(best) }
        let top = logits[best] / temperature
        var floor = top
        for value in logits { floor = min(floor, value / temperature) }
        // the k-th largest scaled logit: the largest threshold with at least k at or above it
        var keepFrom = floor
        if topK > 0 && topK < logits.count {
            var (low, high) = (floor, top + 1)
            for _ in 0..<Self.bisections {
                let middle = (low + high) / 2
                if logits.reduce(0, { $0 + ($1 / temperature >= middle ? 1 : 0) }) >= topK { low = middle } else { high = middle }
            }
            keepFrom = low
        }
        func weight(_ logit: Float) -> Float { logit / temperature >= keepFrom ? expf(logit / temperature - top) : 0 }
        let total = logits.reduce(0) { $0 + weight($1) }
        // top-p: the largest weight threshold whose kept mass still reaches p
        var minimum: Float = 0
        if topP < 1 {
            var (low, high): (Float, Float) = (0, 1.0000001)
            for _ in 0..<Self.bisections {
                let middle = (low + high) / 2
                let mass = logits.reduce(0) { $0 + (weight($1) >= middle ? weight($1) : 0) }
                if mass >= topP * total { low = middle } else { high = middle }
            }
            minimum = low
        }
        let kept = logits.map { weight($0) >= minimum ? weight($0) : 0 }
        let target = uniform * kept.reduce(0, +)
        var running: Float = 0
        for (i, w) in kept.enumerated() where w > 0 {
            running += w
            if target < running { return Int32(i) }
        }
        return Int32(best)
    }

    /// Bisection steps for the top-k and top-p thresholds (the GPU kernel uses the same).
    public static let bisections = 32
}
