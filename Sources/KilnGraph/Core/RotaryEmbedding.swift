// Rotary position embedding: the frequencies of each RoPE variant, computed the way
// Hugging Face transformers computes them (float32), so that logits match.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a RoPE variant rescales the base frequencies for longer contexts.
public enum RopeScaling: Hashable, Sendable, Codable {
    case none
    /// Positions divided by `factor`.
    case linear(factor: Float)
    /// Llama 3.1: low frequencies scaled by `factor`, high ones kept, a smooth ramp between.
    case llama3(factor: Float, lowFreqFactor: Float, highFreqFactor: Float, originalMaxPositions: Int)
    /// YaRN: interpolation for low frequencies, extrapolation for high ones, and a
    /// magnitude correction (`attentionFactor`) applied to cos and sin.
    case yarn(YarnParameters)
}

/// The parameters of YaRN scaling, with the defaults transformers uses.
public struct YarnParameters: Hashable, Sendable, Codable {
    public var factor: Float
    public var originalMaxPositions: Int
    public var attentionFactor: Float?
    public var betaFast: Float
    public var betaSlow: Float
    public var mscale: Float?
    public var mscaleAllDim: Float?
    public var truncate: Bool

    public init(factor: Float, originalMaxPositions: Int, attentionFactor: Float? = nil, betaFast: Float = 32,
                betaSlow: Float = 1, mscale: Float? = nil, mscaleAllDim: Float? = nil, truncate: Bool = true) {
        self.factor = factor
        self.originalMaxPositions = originalMaxPositions
        self.attentionFactor = attentionFactor
        self.betaFast = betaFast
        self.betaSlow = betaSlow
        self.mscale = mscale
        self.mscaleAllDim = mscaleAllDim
        self.truncate = truncate
    }
}

/// Rotary embedding of one attention layer: rotates pairs `(x[i], x[i + d/2])` of each head
/// (the "rotate half" layout of Hugging Face checkpoints) by `position × invFreq[i]`.
public struct RotaryEmbedding: Hashable, Sendable, Codable, CustomStringConvertible {
    public var theta: Float
    /// Rotated dimensions per head (the head size for the models Kiln supports).
    public var dimension: Int
    public var scaling: RopeScaling

    public init(theta: Float, dimension: Int, scaling: RopeScaling = .none) {
        self.theta = theta
        self.dimension = dimension
        self.scaling = scaling
    }

    /// Base frequencies `1 / theta^(2i/d)`, computed in float32 like transformers.
    var baseFrequencies: [Float] {
        stride(from: 0, to: dimension, by: 2).map { 1 / powf(theta, Float($0) / Float(dimension)) }
    }

    /// The per-pair inverse frequencies after scaling.
    public var inverseFrequencies: [Float] {
        let base = baseFrequencies
        switch scaling {
        case .none:
            return base
        case .linear(let factor):
            return base.map { $0 / factor }
        case .llama3(let factor, let low, let high, let original):
            let lowFreqWavelength = Float(original) / low
            let highFreqWavelength = Float(original) / high
            return base.map { invFreq in
                let wavelength = 2 * Float.pi / invFreq
                if wavelength < highFreqWavelength { return invFreq }
                if wavelength > lowFreqWavelength { return invFreq / factor }
                let smooth = (Float(original) / wavelength - low) / (high - low)
                return (1 - smooth) * invFreq / factor + smooth * invFreq
            }
        case .yarn(let yarn):
            return yarnFrequencies(yarn)
        }
    }

    /// The factor cos and sin are multiplied by (YaRN's magnitude correction; 1 otherwise).
    public var attentionFactor: Float {
        guard case .yarn(let yarn) = scaling else { return 1 }
        if let factor = yarn.attentionFactor { return factor }
        func mscale(_ scale: Float, _ m: Float = 1) -> Float { scale <= 1 ? 1 : 0.1 * m * logf(scale) + 1 }
        if let m = yarn.mscale, let mAll = yarn.mscaleAllDim, m != 0, mAll != 0 {
            return mscale(yarn.factor, m) / mscale(yarn.factor, mAll)
        }
        return mscale(yarn.factor)
    }

    private func yarnFrequencies(_ yarn: YarnParameters) -> [Float] {
        let d = Float(dimension)
        // the dimension index whose wavelength makes `rotations` turns over the original context
        func correctionDim(_ rotations: Float) -> Float {
            d * logf(Float(yarn.originalMaxPositions) / (rotations * 2 * Float.pi)) / (2 * logf(theta))
        }
        var low = correctionDim(yarn.betaFast)
        var high = correctionDim(yarn.betaSlow)
        if yarn.truncate {
            low = low.rounded(.down)
            high = high.rounded(.up)
        }
        low = max(low, 0)
        high = min(high, d - 1)
        if low == high { high += 0.001 }
        return baseFrequencies.enumerated().map { i, extrapolated in
            let ramp = min(max((Float(i) - low) / (high - low), 0), 1)
            let extrapolationWeight = 1 - ramp
            let interpolated = extrapolated / yarn.factor
            return interpolated * (1 - extrapolationWeight) + extrapolated * extrapolationWeight
        }
    }

    public var description: String {
        let kind: String
        switch scaling {
        case .none: kind = "default"
        case .linear(let f): kind = "linear x\(f)"
        case .llama3(let f, let lo, let hi, let orig): kind = "llama3 x\(f) low \(lo) high \(hi) orig \(orig)"
        case .yarn(let y): kind = "yarn x\(y.factor) orig \(y.originalMaxPositions)"
        }
        return "theta: \(theta), dim: \(dimension), \(kind)"
    }
}
