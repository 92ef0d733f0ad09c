// What the optional files beside tokenizer.json say: tokenizer_config.json (special tokens,
// chat templates), special_tokens_map.json and generation_config.json (stop ids).

import FoundationEssentials

/// Settings from the configuration files that accompany tokenizer.json; every field is
/// optional because every file is.
public struct TokenizerConfig: Sendable, Equatable {
    public var bosToken: String?
    public var eosToken: String?
    public var unkToken: String?
    public var padToken: String?
    /// `add_bos_token` / `add_eos_token` as written; tokenizer.json's post-processor decides
    /// what `encode` adds.
    public var addBosToken: Bool?
    public var addEosToken: Bool?
    /// Chat templates by name; a plain string template is named "default".
    public var chatTemplates: [String: String]
    /// generation_config.json's `eos_token_id` (one id or several).
    public var generationEosTokenIds: [Int32]?
    /// generation_config.json's `bos_token_id`.
    public var generationBosTokenId: Int32?

    public init(bosToken: String? = nil, eosToken: String? = nil, unkToken: String? = nil, padToken: String? = nil,
                addBosToken: Bool? = nil, addEosToken: Bool? = nil, chatTemplates: [String: String] = [:],
                generationEosTokenIds: [Int32]? = nil, generationBosTokenId: Int32? = nil) {
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.unkToken = unkToken
        self.padToken = padToken
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.chatTemplates = chatTemplates
        self.generationEosTokenIds = generationEosTokenIds
        self.generationBosTokenId = generationBosTokenId
    }

    /// Reads whichever of the configuration files exist in `directory`.
    public static func load(directory: String) throws(TokenizerError) -> TokenizerConfig {
        var config = TokenizerConfig()
        // special_tokens_map.json first: tokenizer_config.json overrides it.
        if let map = try readJSONFile(directory, "special_tokens_map.json") {
            try config.readSpecialTokens(map)
        }
        if let tokenizerConfig = try readJSONFile(directory, "tokenizer_config.json") {
            try config.readSpecialTokens(tokenizerConfig)
            config.addBosToken = try tokenizerConfig.optionalBool("add_bos_token") ?? config.addBosToken
            config.addEosToken = try tokenizerConfig.optionalBool("add_eos_token") ?? config.addEosToken
            if let templates = try tokenizerConfig.optional("chat_template") {
                config.chatTemplates = try parseChatTemplates(templates)
            }
        }
        // Newer exports keep the template in its own file.
        let templatePath = joinPath(directory, "chat_template.jinja")
        if config.chatTemplates["default"] == nil, FileManager.default.fileExists(atPath: templatePath) {
            config.chatTemplates["default"] = String(decoding: try readFile(templatePath), as: UTF8.self)
        }
        if let generation = try readJSONFile(directory, "generation_config.json") {
            if let eos = try generation.optional("eos_token_id") {
                if case .array = eos.value {
                    config.generationEosTokenIds = try eos.array().map { (f) throws(TokenizerError) in try tokenId(f) }
                } else {
                    config.generationEosTokenIds = [try tokenId(eos)]
                }
            }
            config.generationBosTokenId = try generation.optional("bos_token_id").map { (f) throws(TokenizerError) in try tokenId(f) }
        }
        return config
    }

    private mutating func readSpecialTokens(_ file: JSONField) throws(TokenizerError) {
        func token(_ key: String) throws(TokenizerError) -> String?? {
            guard case .object(let object) = file.value, let value = object[key] else { return .none }
            if value.isNull { return .some(nil) }
            let field = try file.required(key)
            if case .string(let s) = value { return .some(s) }
            return .some(try field.required("content").string())
        }
        if let bos = try token("bos_token") { bosToken = bos }
        if let eos = try token("eos_token") { eosToken = eos }
        if let unk = try token("unk_token") { unkToken = unk }
        if let pad = try token("pad_token") { padToken = pad }
    }

    private static func parseChatTemplates(_ field: JSONField) throws(TokenizerError) -> [String: String] {
        if case .string(let template) = field.value { return ["default": template] }
        var templates: [String: String] = [:]
        for entry in try field.array() {
            templates[try entry.required("name").string()] = try entry.required("template").string()
        }
        return templates
    }

    private static func tokenId(_ field: JSONField) throws(TokenizerError) -> Int32 {
        let id = try field.int()
        guard id >= 0 && id <= Int(Int32.max) else { throw field.invalid("token ids must be non-negative 32-bit integers") }
        return Int32(id)
    }
}

func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

func readFile(_ path: String) throws(TokenizerError) -> Data {
    guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(file: path) }
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw .unreadableFile(file: path, reason: "\(error)")
    }
}

/// Parses a JSON file, reporting syntax errors with the file's path.
func parseJSONFile(_ path: String) throws(TokenizerError) -> JSONValue {
    let data = try readFile(path)
    let result: Result<JSONValue, JSONError> = data.withUnsafeBytes { raw in
        Result { () throws(JSONError) in try JSONValue.parse(raw.bindMemory(to: UInt8.self)) }
    }
    switch result {
    case .success(let value): return value
    case .failure(let error): throw .malformedJSON(file: path, error: error)
    }
}

/// An optional file in `directory`, parsed; nil when absent.
private func readJSONFile(_ directory: String, _ name: String) throws(TokenizerError) -> JSONField? {
    let path = joinPath(directory, name)
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    return JSONField(try parseJSONFile(path), file: path)
}
