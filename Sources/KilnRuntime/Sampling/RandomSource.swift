// A small, fast, seedable generator so that a seed reproduces the same tokens everywhere.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// xoshiro256** seeded through SplitMix64 (the published reference algorithms).
public struct RandomSource: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= Self.golden
            return Self.mix(s)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// SplitMix64's increment and output function.
    private static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// A uniform float in [0, 1) from the top 24 bits.
    mutating func nextUnitFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

extension RandomSource {
    /// A standard normal sample (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = max(nextUnitFloat(), 0x1p-24), u2 = nextUnitFloat()
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

extension RandomSource {
    /// The seed of completion `index` of a request seeded with `seed`: the seed itself for the
    /// first (so n = 1 samples as before), then SplitMix64 outputs, unrelated streams.
    public static func completionSeed(_ seed: UInt64, index: Int) -> UInt64 {
        index == 0 ? seed : mix(seed &+ UInt64(index) &* golden)
    }
}
