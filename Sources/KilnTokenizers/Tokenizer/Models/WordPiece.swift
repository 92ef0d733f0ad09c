// The WordPiece model (BERT): greedy longest-match-first subwords, `##`-prefixed after the
// first, the whole word becoming the unknown token when any part cannot be matched.

struct WordPiece: TokenizerModel {
    let vocabulary: [ExactString: Int32]
    private let tokens: [String?]
    private let unkId: Int32
    private let prefix: String
    private let maxInputCharsPerWord: Int

    init(_ field: JSONField) throws(TokenizerError) {
        let (vocabulary, tokens) = try parseVocabulary(field.required("vocab"))
        (self.vocabulary, self.tokens) = (vocabulary, tokens)
        let unk = try field.optional("unk_token")
        let unkToken = try unk?.string() ?? "[UNK]"
        guard let unkId = vocabulary[ExactString(unkToken)] else {
            throw (unk ?? field).invalid("the unknown token \"\(unkToken)\" is not in model.vocab")
        }
        self.unkId = unkId
        prefix = try field.optionalString("continuing_subword_prefix") ?? "##"
        maxInputCharsPerWord = try field.optionalInt("max_input_chars_per_word") ?? 100
    }

    func id(forToken token: String) -> Int32? { vocabulary[ExactString(token)] }

    func token(forId id: Int32) -> String? { id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil }

    func tokenize(_ word: [Unicode.Scalar], into ids: inout [Int32], state: inout EncodingState) {
        if word.count > maxInputCharsPerWord {
            ids.append(unkId)
            return
        }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32? = nil
            while start < end {
                let candidate = (start > 0 ? prefix : "") + String(scalars: word[start..<end])
                if let id = vocabulary[ExactString(candidate)] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                ids.append(unkId)
                return
            }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }
}
