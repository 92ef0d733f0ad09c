// generation_config.json: the model author's defaults for generation.

import FoundationEssentials

/// The generation defaults a model folder ships (all optional).
public struct GenerationConfig: Codable, Hashable, Sendable {
    public var eosTokenId: TokenIDs?
    public var bosTokenId: TokenIDs?
    public var doSample: Bool?
    public var temperature: Float?
    public var topK: Int?
    public var topP: Float?

    enum CodingKeys: String, CodingKey {
        case eosTokenId = "eos_token_id", bosTokenId = "bos_token_id", doSample = "do_sample"
        case temperature, topK = "top_k", topP = "top_p"
    }

    public init() {}

    public var eosTokenIds: [Int] { eosTokenId?.ids ?? [] }

    /// The folder's generation_config.json, or empty defaults when it has none.
    static func read(directory: String) throws(ModelConfigError) -> GenerationConfig {
        let file = filePath(directory, "generation_config.json")
        guard FileManager.default.fileExists(atPath: file) else { return GenerationConfig() }
        return try decode(readFile(file), file: file)
    }
}
