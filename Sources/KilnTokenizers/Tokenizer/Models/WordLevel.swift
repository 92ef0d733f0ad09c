// The WordLevel model: each word is one vocabulary entry, or the unknown token.

struct WordLevel: TokenizerModel {
    let vocabulary: [ExactString: Int32]
    private let tokens: [String?]
    private let unkId: Int32?

    init(_ field: JSONField) throws(TokenizerError) {
        let (vocabulary, tokens) = try parseVocabulary(field.required("vocab"))
        (self.vocabulary, self.tokens) = (vocabulary, tokens)
        if let unk = try field.optional("unk_token") {
            guard let id = vocabulary[ExactString(try unk.string())] else { throw unk.invalid("the unknown token \"\(try unk.string())\" is not in model.vocab") }
            unkId = id
        } else {
            unkId = nil
        }
    }

    func id(forToken token: String) -> Int32? { vocabulary[ExactString(token)] }

    func token(forId id: Int32) -> String? { id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil }

    func tokenize(_ word: [Unicode.Scalar], into ids: inout [Int32], state: inout EncodingState) {
        // The Rust library fails the whole encode for an unknown word without an unknown
        // token; an encode that cannot fail drops the word instead.
        if let id = vocabulary[ExactString(String(scalars: word))] ?? unkId { ids.append(id) }
    }
}
