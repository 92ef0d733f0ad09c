// The tokenizer a GGUF file describes (its `tokenizer.ggml.*` metadata), as plain values: the
// GGUF reader fills it, `Tokenizer(gguf:file:)` turns it into the equivalent tokenizer.json.

/// The `tokenizer.ggml.*` and `tokenizer.chat_template*` metadata of a GGUF file.
public struct GGUFTokenizerMetadata: Sendable, Equatable, Codable {
    /// `tokenizer.ggml.token_type` values.
    public enum TokenType: Int32, Sendable, Codable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// `tokenizer.ggml.model`: "gpt2" (byte-level BPE with merges) or "llama" (SentencePiece
    /// BPE with scores and byte fallback).
    public var model: String
    /// `tokenizer.ggml.pre`: the pre-tokenizer name llama.cpp knows ("llama-bpe", "qwen2", …).
    public var pre: String?
    /// `tokenizer.ggml.tokens`: the vocabulary, indexed by id.
    public var tokens: [String]
    /// `tokenizer.ggml.scores`: one per token (SentencePiece models).
    public var scores: [Float]?
    /// `tokenizer.ggml.token_type`: one per token (see `TokenType`).
    public var tokenTypes: [Int32]?
    /// `tokenizer.ggml.merges`: "left right" strings, best first.
    public var merges: [String]?
    public var bosTokenId: Int?
    public var eosTokenId: Int?
    /// `tokenizer.ggml.eot_token_id` (end of turn, e.g. Llama-3's `<|eot_id|>`).
    public var eotTokenId: Int?
    /// `tokenizer.ggml.eom_token_id` (end of message).
    public var eomTokenId: Int?
    public var unknownTokenId: Int?
    public var paddingTokenId: Int?
    /// `tokenizer.ggml.add_bos_token`; nil: llama.cpp's default for the model.
    public var addBosToken: Bool?
    /// `tokenizer.ggml.add_eos_token`; nil: false.
    public var addEosToken: Bool?
    /// `tokenizer.ggml.add_space_prefix` (SentencePiece's dummy prefix); nil: true.
    public var addSpacePrefix: Bool?
    /// `tokenizer.chat_template`.
    public var chatTemplate: String?
    /// `tokenizer.chat_template.NAME` templates by NAME (e.g. "tool_use").
    public var namedChatTemplates: [String: String]

    public init(model: String, pre: String? = nil, tokens: [String], scores: [Float]? = nil, tokenTypes: [Int32]? = nil,
                merges: [String]? = nil, bosTokenId: Int? = nil, eosTokenId: Int? = nil, eotTokenId: Int? = nil,
                eomTokenId: Int? = nil, unknownTokenId: Int? = nil, paddingTokenId: Int? = nil,
                addBosToken: Bool? = nil, addEosToken: Bool? = nil, addSpacePrefix: Bool? = nil,
                chatTemplate: String? = nil, namedChatTemplates: [String: String] = [:]) {
        self.model = model
        self.pre = pre
        self.tokens = tokens
        self.scores = scores
        self.tokenTypes = tokenTypes
        self.merges = merges
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.eotTokenId = eotTokenId
        self.eomTokenId = eomTokenId
        self.unknownTokenId = unknownTokenId
        self.paddingTokenId = paddingTokenId
        self.addBosToken = addBosToken
        self.addEosToken = addEosToken
        self.addSpacePrefix = addSpacePrefix
        self.chatTemplate = chatTemplate
        self.namedChatTemplates = namedChatTemplates
    }
}
