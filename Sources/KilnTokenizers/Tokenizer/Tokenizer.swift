// The public tokenizer: loads a Hugging Face tokenizer.json (plus its config files) and
// encodes/decodes exactly as the Rust `tokenizers` library does.

/// A Hugging Face `tokenizers` tokenizer. Immutable and safe to share across threads.
public final class Tokenizer: Sendable {
    private let model: any TokenizerModel
    private let addedVocabulary: AddedVocabulary
    private let normalizer: Normalizer?
    private let preTokenizer: PreTokenizer?
    private let postProcessor: PostProcessor?
    let decoder: Decoder?
    private let config: TokenizerConfig

    /// The number of distinct tokens: the model's vocabulary and the added tokens together.
    public let vocabularySize: Int

    /// Loads `tokenizer.json` and whichever of tokenizer_config.json, special_tokens_map.json,
    /// generation_config.json and chat_template.jinja exist beside it.
    public static func load(directory: String) throws(TokenizerError) -> Tokenizer {
        let path = joinPath(directory, "tokenizer.json")
        let json = try parseJSONFile(path)
        return try Tokenizer(json: json, file: path, config: try TokenizerConfig.load(directory: directory))
    }

    /// Builds a tokenizer from a parsed tokenizer.json; `file` names it in errors.
    public init(json: JSONValue, file: String, config: TokenizerConfig = TokenizerConfig()) throws(TokenizerError) {
        let root = JSONField(json, file: file)
        // `truncation` and `padding` are ignored: transformers switches both off for a plain
        // `tokenizer(text)`, and an inference engine must see every token.
        model = try parseModel(root.required("model"))
        normalizer = try root.optional("normalizer").map { (f) throws(TokenizerError) in try Normalizer.parse(f) }
        preTokenizer = try root.optional("pre_tokenizer").map { (f) throws(TokenizerError) in try PreTokenizer.parse(f) }
        postProcessor = try root.optional("post_processor").map { (f) throws(TokenizerError) in try PostProcessor.parse(f) }
        decoder = try root.optional("decoder").map { (f) throws(TokenizerError) in try Decoder.parse(f) }
        let model = model
        let added = try root.optional("added_tokens")?.array().map { (f) throws(TokenizerError) in try AddedToken(f, model: model) } ?? []
        addedVocabulary = AddedVocabulary(tokens: added, normalizer: normalizer)
        vocabularySize = model.vocabulary.count + addedVocabulary.tokens.count { model.id(forToken: $0.content) == nil }
        self.config = config
    }

    /// The ids of `text`; `addSpecialTokens` applies the post-processor's template (BOS etc.).
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(text.utf8.count / 3)
        var state = EncodingState()
        for piece in addedVocabulary.extract(text, normalizer: normalizer) {
            if let id = piece.id {
                ids.append(id)
                continue
            }
            let start = PreToken(text: piece.text, atStart: piece.atStart)
            for word in preTokenizer?.preTokenize([start]) ?? [start] where !word.text.isEmpty {
                model.tokenize(word.text, into: &ids, state: &state)
            }
        }
        return postProcessor?.process(ids, addSpecialTokens: addSpecialTokens) ?? ids
    }

    /// The text of `ids`, through the decoder; special tokens left out if asked.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) throws(TokenizerError) -> String {
        var tokens: [String] = []
        tokens.reserveCapacity(ids.count)
        for id in ids {
            let token = try token(forId: id)
            if skipSpecialTokens && addedVocabulary.specialContents.contains(ExactString(token)) { continue }
            tokens.append(token)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// The vocabulary strings of `ids` (byte-level ones as stored, e.g. "Ġworld").
    public func tokens(_ ids: [Int32]) throws(TokenizerError) -> [String] {
        var tokens: [String] = []
        for id in ids { tokens.append(try token(forId: id)) }
        return tokens
    }

    /// The id of a vocabulary string, added tokens first.
    public func id(forToken token: String) -> Int32? {
        addedVocabulary.idsByContent[ExactString(token)] ?? model.id(forToken: token)
    }

    /// Whether `id` is a special added token (skipped by `decode(_:skipSpecialTokens: true)`).
    public func isSpecialToken(_ id: Int32) -> Bool {
        guard let token = try? token(forId: id) else { return false }
        return addedVocabulary.specialContents.contains(ExactString(token))
    }

    func token(forId id: Int32) throws(TokenizerError) -> String {
        guard let token = addedVocabulary.contentsById[id] ?? model.token(forId: id) else {
            throw .idOutOfRange(id: id, vocabularySize: vocabularySize)
        }
        return token
    }

    /// The beginning-of-sequence token named by the config files.
    public var bosToken: String? { config.bosToken }
    /// The end-of-sequence token named by the config files.
    public var eosToken: String? { config.eosToken }

    /// The id of `bosToken`, else generation_config.json's `bos_token_id`.
    public var bosTokenId: Int32? { bosToken.flatMap { id(forToken: $0) } ?? config.generationBosTokenId }

    /// The ids that end generation: generation_config.json's (Llama-3 lists several), else the
    /// id of `eosToken`.
    public var eosTokenIds: [Int32] {
        if let ids = config.generationEosTokenIds { return ids }
        return eosToken.flatMap { id(forToken: $0) }.map { [$0] } ?? []
    }

    /// Chat templates by name (source text); a plain string template is named "default".
    public var chatTemplates: [String: String] { config.chatTemplates }

    /// A decoder for ids arriving one at a time (see `StreamingDetokenizer`).
    public func makeStreamingDetokenizer(skipSpecialTokens: Bool = false) -> StreamingDetokenizer {
        StreamingDetokenizer(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }
}
