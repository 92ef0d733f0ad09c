// A GGUF file's tokenizer as the equivalent tokenizer.json, handed to the tokenizer.json engine:
// what transformers' GGUF converters (GGUFTokenizerSkeleton, GGUFLlamaConverter, GGUFGPTConverter,
// GGUFQwen2Converter) build, with the pre-tokenizer llama.cpp's llama-vocab.cpp picks for
// `tokenizer.ggml.pre`, so both tokenize alike.

extension Tokenizer {
    /// Builds the tokenizer a GGUF file's metadata describes; `file` names it in errors, which
    /// name the metadata key at fault (e.g. `tokenizer.ggml.scores`).
    public convenience init(gguf: GGUFTokenizerMetadata, file: String) throws(TokenizerError) {
        let (json, config) = try gguf.tokenizerJSON(file: file)
        try self.init(json: json, file: file, config: config)
    }
}

/// How `tokenizer.ggml.pre` splits text before byte-level BPE (llama.cpp's regex table).
enum GGUFPreTokenizer: Equatable {
    /// GPT-2's regex.
    case gpt2
    /// `\p{N}` (each digit alone), then GPT-2's regex.
    case gpt2IndividualDigits
    /// Llama-3's regex (`\p{N}{1,3}`); merges are skipped for words in the vocabulary.
    case llama3
    /// Qwen2's regex (`\p{N}`).
    case qwen2

    init?(name: String?) {
        switch name ?? "default" {
        case "default", "", "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0",
             "mellum", "exaone4", "mpt", "olmo", "jais", "trillion", "granite-docling":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            self = .gpt2IndividualDigits
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "kormo", "f2llmv2":
            self = .qwen2
        default:
            return nil
        }
    }

    var json: JSONValue {
        func byteLevel(useRegex: Bool) -> JSONValue {
            object(["type": .string("ByteLevel"), "add_prefix_space": .bool(false), "trim_offsets": .bool(true), "use_regex": .bool(useRegex)])
        }
        func split(_ regex: String) -> JSONValue {
            object(["type": .string("Split"), "pattern": object(["Regex": .string(regex)]), "behavior": .string("Isolated"), "invert": .bool(false)])
        }
        switch self {
        case .gpt2:
            return byteLevel(useRegex: true)
        case .gpt2IndividualDigits:
            return object(["type": .string("Sequence"), "pretokenizers": .array([
                object(["type": .string("Digits"), "individual_digits": .bool(true)]), byteLevel(useRegex: true)])])
        case .llama3:
            return object(["type": .string("Sequence"), "pretokenizers": .array([split(SplitPattern.llama3Source), byteLevel(useRegex: false)])])
        case .qwen2:
            return object(["type": .string("Sequence"), "pretokenizers": .array([split(SplitPattern.qwen2Source), byteLevel(useRegex: false)])])
        }
    }
}

extension GGUFTokenizerMetadata {
    /// The equivalent tokenizer.json and the settings its config files would hold.
    func tokenizerJSON(file: String) throws(TokenizerError) -> (JSONValue, TokenizerConfig) {
        func invalid(_ key: String, _ reason: String) -> TokenizerError { .invalidValue(file: file, path: key, reason: reason) }

        guard let kind = model(named: self.model) else {
            throw .unsupported(file: file, path: "tokenizer.ggml.model",
                               what: "the tokenizer model \"\(self.model)\" (Kiln reads \"gpt2\" byte-level BPE and \"llama\" SentencePiece BPE)")
        }
        guard !tokens.isEmpty else { throw invalid("tokenizer.ggml.tokens", "the vocabulary is empty") }
        guard tokens.count <= Int(Int32.max) else { throw invalid("tokenizer.ggml.tokens", "\(tokens.count) tokens are too many") }
        if let scores, scores.count != tokens.count {
            throw invalid("tokenizer.ggml.scores", "\(scores.count) scores for \(tokens.count) tokens (tokenizer.ggml.tokens); there must be one per token")
        }
        if let tokenTypes, tokenTypes.count != tokens.count {
            throw invalid("tokenizer.ggml.token_type", "\(tokenTypes.count) token types for \(tokens.count) tokens (tokenizer.ggml.tokens); there must be one per token")
        }
        func checkedId(_ id: Int?, _ key: String) throws(TokenizerError) -> Int? {
            guard let id else { return nil }
            guard id >= 0 && id < tokens.count else { throw invalid(key, "id \(id) is outside the vocabulary of \(tokens.count) tokens") }
            return id
        }
        let bos = try checkedId(bosTokenId, "tokenizer.ggml.bos_token_id")
        let eos = try checkedId(eosTokenId, "tokenizer.ggml.eos_token_id")
        let eot = try checkedId(eotTokenId, "tokenizer.ggml.eot_token_id")
        let eom = try checkedId(eomTokenId, "tokenizer.ggml.eom_token_id")
        var unknown = try checkedId(unknownTokenId, "tokenizer.ggml.unknown_token_id")
        // llama.cpp ignores an out-of-range padding id (some converters write the vocabulary size).
        let padding = paddingTokenId.flatMap { $0 >= 0 && $0 < tokens.count ? $0 : nil }

        var root = JSONObject()
        root["version"] = .string("1.0")
        root["truncation"] = .null
        root["padding"] = .null

        var modelJSON = JSONObject()
        modelJSON["type"] = .string("BPE")
        modelJSON["dropout"] = .null
        let addBos: Bool
        switch kind {
        case .gpt2:
            guard let pre = GGUFPreTokenizer(name: self.pre) else {
                throw .unsupported(file: file, path: "tokenizer.ggml.pre", what: "the pre-tokenizer \"\(self.pre ?? "")\"")
            }
            guard let merges else { throw .missingField(file: file, path: "tokenizer.ggml.merges") }
            modelJSON["unk_token"] = .null
            modelJSON["continuing_subword_prefix"] = .null
            modelJSON["end_of_word_suffix"] = .null
            modelJSON["fuse_unk"] = .bool(false)
            modelJSON["byte_fallback"] = .bool(false)
            // llama.cpp sets ignore_merges for Llama-3, as Meta's tokenizer.json does.
            modelJSON["ignore_merges"] = .bool(pre == .llama3)
            modelJSON["vocab"] = vocabularyJSON()
            modelJSON["merges"] = .array(try splitMerges(merges, file: file))
            root["normalizer"] = .null
            root["pre_tokenizer"] = pre.json
            root["decoder"] = object(["type": .string("ByteLevel"), "add_prefix_space": .bool(true), "trim_offsets": .bool(true), "use_regex": .bool(true)])
            addBos = addBosToken ?? (pre == .llama3)
            unknown = nil
        case .llama:
            let merges: [JSONValue]
            if let given = self.merges {
                merges = try splitMerges(given, file: file)
            } else {
                guard let scores else { throw .missingField(file: file, path: "tokenizer.ggml.scores") }
                merges = sentencePieceMerges(scores: scores)
            }
            // SentencePiece's `<unk>` is id 0 unless the file says otherwise.
            if unknown == nil, tokenTypes?.first == TokenType.unknown.rawValue { unknown = 0 }
            modelJSON["unk_token"] = unknown.map { .string(tokens[$0]) } ?? .null
            modelJSON["continuing_subword_prefix"] = .null
            modelJSON["end_of_word_suffix"] = .null
            modelJSON["fuse_unk"] = .bool(true)
            modelJSON["byte_fallback"] = .bool(true)
            modelJSON["ignore_merges"] = .bool(false)
            modelJSON["vocab"] = vocabularyJSON()
            modelJSON["merges"] = .array(merges)
            let spacePrefix = addSpacePrefix ?? true
            var normalizers: [JSONValue] = []
            if spacePrefix { normalizers.append(object(["type": .string("Prepend"), "prepend": .string("\u{2581}")])) }
            normalizers.append(object(["type": .string("Replace"), "pattern": object(["String": .string(" ")]), "content": .string("\u{2581}")]))
            root["normalizer"] = object(["type": .string("Sequence"), "normalizers": .array(normalizers)])
            root["pre_tokenizer"] = .null
            var decoders: [JSONValue] = [
                object(["type": .string("Replace"), "pattern": object(["String": .string("\u{2581}")]), "content": .string(" ")]),
                object(["type": .string("ByteFallback")]),
                object(["type": .string("Fuse")]),
            ]
            if spacePrefix { decoders.append(object(["type": .string("Strip"), "content": .string(" "), "start": .int(1), "stop": .int(0)])) }
            root["decoder"] = object(["type": .string("Sequence"), "decoders": .array(decoders)])
            addBos = addBosToken ?? true
        }
        let addEos = addEosToken ?? false
        root["added_tokens"] = .array(addedTokens(specialIds: [unknown, bos, eos].compactMap { $0 }))
        root["post_processor"] = postProcessor(bos: addBos ? bos : nil, eos: addEos ? eos : nil)
        root["model"] = .object(modelJSON)

        var stopIds: [Int32] = []
        for id in [eos, eot, eom].compactMap({ $0 }) where !stopIds.contains(Int32(id)) { stopIds.append(Int32(id)) }
        var templates = namedChatTemplates
        if let chatTemplate { templates["default"] = chatTemplate }
        let config = TokenizerConfig(
            bosToken: bos.map { tokens[$0] }, eosToken: eos.map { tokens[$0] }, unkToken: unknown.map { tokens[$0] },
            padToken: padding.map { tokens[$0] }, addBosToken: addBos, addEosToken: addEos, chatTemplates: templates,
            generationEosTokenIds: stopIds.isEmpty ? nil : stopIds, generationBosTokenId: bos.map { Int32($0) })
        return (.object(root), config)
    }

    private enum ModelKind { case gpt2, llama }

    private func model(named name: String) -> ModelKind? {
        switch name {
        case "gpt2": .gpt2
        case "llama": .llama
        default: nil
        }
    }

    /// Token → id; a repeated token keeps its last id, as transformers' dict does.
    private func vocabularyJSON() -> JSONValue {
        var vocab = JSONObject()
        for (id, token) in tokens.enumerated() { vocab[token] = .int(id) }
        return .object(vocab)
    }

    /// Control and unknown tokens as special added tokens, user-defined ones as plain added
    /// tokens (llama.cpp matches both in text before the model runs), all matched on raw text.
    /// Without token types, the unknown, BOS and EOS tokens are the special ones (as transformers
    /// does).
    private func addedTokens(specialIds: [Int]) -> [JSONValue] {
        let kinds: [(id: Int, special: Bool)]
        if let tokenTypes {
            kinds = tokenTypes.enumerated().compactMap { id, type in
                switch TokenType(rawValue: type) {
                case .control?, .unknown?: (id, true)
                case .userDefined?: (id, false)
                default: nil
                }
            }
        } else {
            kinds = Set(specialIds).sorted().map { ($0, true) }
        }
        var added: [JSONValue] = []
        for (id, special) in kinds {
            added.append(object([
                "id": .int(id), "content": .string(tokens[id]), "single_word": .bool(false), "lstrip": .bool(false), "rstrip": .bool(false),
                "normalized": .bool(false), "special": .bool(special),
            ]))
        }
        return added
    }

    /// A TemplateProcessing that adds `bos` before and `eos` after the sequence.
    private func postProcessor(bos: Int?, eos: Int?) -> JSONValue {
        func special(_ id: Int, _ typeId: Int) -> JSONValue {
            object(["SpecialToken": object(["id": .string(tokens[id]), "type_id": .int(typeId)])])
        }
        func sequence(_ name: String, _ typeId: Int) -> JSONValue {
            object(["Sequence": object(["id": .string(name), "type_id": .int(typeId)])])
        }
        var single: [JSONValue] = [], pair: [JSONValue] = []
        if let bos { single.append(special(bos, 0)) }
        single.append(sequence("A", 0))
        if let eos { single.append(special(eos, 0)) }
        if let bos { pair.append(special(bos, 0)) }
        pair.append(sequence("A", 0))
        if let eos { pair.append(special(eos, 0)) }
        if let bos { pair.append(special(bos, 1)) }
        pair.append(sequence("B", 1))
        if let eos { pair.append(special(eos, 1)) }
        var specials = JSONObject()
        for id in [bos, eos].compactMap({ $0 }) {
            specials[tokens[id]] = object(["id": .string(tokens[id]), "ids": .array([.int(id)]), "tokens": .array([.string(tokens[id])])])
        }
        return object(["type": .string("TemplateProcessing"), "single": .array(single), "pair": .array(pair), "special_tokens": .object(specials)])
    }
}

/// `"left right"` merges as `["left", "right"]` pairs, split at the first space after the first
/// byte as llama.cpp does (so a left token may begin with a space).
private func splitMerges(_ merges: [String], file: String) throws(TokenizerError) -> [JSONValue] {
    var pairs: [JSONValue] = []
    pairs.reserveCapacity(merges.count)
    for (index, merge) in merges.enumerated() {
        let utf8 = merge.utf8
        guard let space = utf8.dropFirst().firstIndex(of: UInt8(ascii: " ")) else {
            throw .invalidValue(file: file, path: "tokenizer.ggml.merges[\(index)]", reason: "a merge must be two tokens separated by a space, got \"\(merge)\"")
        }
        let left = String(merge[..<space])
        let right = String(merge[utf8.index(after: space)...])
        pairs.append(.array([.string(left), .string(right)]))
    }
    return pairs
}

extension GGUFTokenizerMetadata {
    /// Merges for a SentencePiece BPE vocabulary, derived from its scores as transformers'
    /// GGUFTokenizerSkeleton does: every split of every token into two vocabulary tokens,
    /// ordered by the merged token's score (best first), splits of one token by the scores of
    /// their halves; ties keep vocabulary order.
    func sentencePieceMerges(scores: [Float]) -> [JSONValue] {
        // `{token: score}`: a repeated token sits where it first appears, with its last score.
        var scoreOf: [ExactString: Float] = [:]
        var unique: [ExactString] = []
        for (token, score) in zip(tokens, scores) {
            let key = ExactString(token)
            if scoreOf.updateValue(score, forKey: key) == nil { unique.append(key) }
        }
        struct Merge {
            var left: String
            var right: String
            var score: Float
        }
        var merges: [Merge] = []
        for token in unique {
            let scalars = Array(token.value.unicodeScalars)
            guard scalars.count > 1, let score = scoreOf[token] else { continue }
            var local: [(merge: Merge, leftScore: Float, rightScore: Float)] = []
            for index in 1..<scalars.count {
                let left = String(String.UnicodeScalarView(scalars[..<index]))
                let right = String(String.UnicodeScalarView(scalars[index...]))
                if let leftScore = scoreOf[ExactString(left)], let rightScore = scoreOf[ExactString(right)] {
                    local.append((Merge(left: left, right: right, score: score), leftScore, rightScore))
                }
            }
            // Python's stable `sorted(..., reverse=True)` on (left score, right score).
            let order = local.indices.sorted { a, b in
                let x = local[a], y = local[b]
                if x.leftScore != y.leftScore { return x.leftScore > y.leftScore }
                if x.rightScore != y.rightScore { return x.rightScore > y.rightScore }
                return a < b
            }
            merges.append(contentsOf: order.map { local[$0].merge })
        }
        let order = merges.indices.sorted { a, b in
            merges[a].score != merges[b].score ? merges[a].score > merges[b].score : a < b
        }
        return order.map { .array([.string(merges[$0].left), .string(merges[$0].right)]) }
    }
}

private func object(_ members: KeyValuePairs<String, JSONValue>) -> JSONValue {
    var object = JSONObject()
    for (key, value) in members { object[key] = value }
    return .object(object)
}
