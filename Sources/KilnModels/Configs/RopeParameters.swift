// The RoPE section of config.json in both layouts: transformers-4 (`rope_theta` beside
// `rope_scaling`) and transformers-5 (`rope_parameters`, which holds `rope_theta` too).

import KilnGraph

/// The keys any RoPE variant may carry; which ones matter depends on `rope_type`.
struct RopeParameters: Codable, Hashable {
    var ropeType: String?
    /// The transformers-4 spelling of `rope_type` in older checkpoints.
    var type: String?
    var ropeTheta: Float?
    var factor: Float?
    var lowFreqFactor: Float?
    var highFreqFactor: Float?
    var originalMaxPositionEmbeddings: Int?
    var attentionFactor: Float?
    var betaFast: Float?
    var betaSlow: Float?
    var mscale: Float?
    var mscaleAllDim: Float?
    var truncate: Bool?

    enum CodingKeys: String, CodingKey {
        case ropeType = "rope_type", type, ropeTheta = "rope_theta", factor
        case lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        case attentionFactor = "attention_factor", betaFast = "beta_fast", betaSlow = "beta_slow"
        case mscale, mscaleAllDim = "mscale_all_dim", truncate
    }

    /// The scaling these parameters describe. `field` names the JSON object in errors.
    func scaling(file: String, field: String, maxPositionEmbeddings: Int) throws(ModelConfigError) -> RopeScaling {
        let kind = ropeType ?? type ?? "default"
        func require<T>(_ value: T?, _ key: String) throws(ModelConfigError) -> T {
            guard let value else { throw .missingField(file: file, field: field + "." + key) }
            return value
        }
        switch kind {
        case "default":
            return .none
        case "linear":
            return .linear(factor: try require(factor, "factor"))
        case "llama3":
            return .llama3(factor: try require(factor, "factor"), lowFreqFactor: try require(lowFreqFactor, "low_freq_factor"),
                           highFreqFactor: try require(highFreqFactor, "high_freq_factor"),
                           originalMaxPositions: try require(originalMaxPositionEmbeddings, "original_max_position_embeddings"))
        case "yarn":
            return .yarn(YarnParameters(
                factor: try require(factor, "factor"),
                originalMaxPositions: originalMaxPositionEmbeddings ?? maxPositionEmbeddings,
                attentionFactor: attentionFactor, betaFast: betaFast ?? 32, betaSlow: betaSlow ?? 1,
                mscale: mscale, mscaleAllDim: mscaleAllDim, truncate: truncate ?? true))
        default:
            throw .unsupportedRopeType(file: file, field: field + ".rope_type", value: kind)
        }
    }
}
