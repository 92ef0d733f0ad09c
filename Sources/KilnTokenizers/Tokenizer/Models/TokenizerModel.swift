// The model turns one pre-tokenized word into ids; BPE, WordPiece and WordLevel implement it.

/// What one `encode` call keeps between words: a cache of their ids (words repeat within a
/// text, and a per-call cache needs no locking) and BPE's working buffers.
struct EncodingState {
    var cache: [[Unicode.Scalar]: [Int32]] = [:]
    var previous: [Int32] = []
    var next: [Int32] = []
    var heap = MergeHeap()
}

protocol TokenizerModel: Sendable {
    /// Appends the ids of `word` to `ids`.
    func tokenize(_ word: [Unicode.Scalar], into ids: inout [Int32], state: inout EncodingState)
    func id(forToken token: String) -> Int32?
    func token(forId id: Int32) -> String?
    /// Every (token, id) of the vocabulary.
    var vocabulary: [ExactString: Int32] { get }
}

/// Reads a model's `vocab` object (token → id).
func parseVocabulary(_ field: JSONField) throws(TokenizerError) -> (vocab: [ExactString: Int32], tokens: [String?]) {
    let object = try field.object()
    var vocab: [ExactString: Int32] = [:]
    vocab.reserveCapacity(object.count)
    var tokens: [String?] = []
    for (token, value) in object.members {
        guard let id = value.int, id >= 0, id <= Int(Int32.max) else {
            throw JSONField(value, file: field.file, path: "\(field.path).\(token)").wrongType("a non-negative integer id")
        }
        vocab[ExactString(token)] = Int32(id)
        if id >= tokens.count { tokens.append(contentsOf: repeatElement(nil, count: id + 1 - tokens.count)) }
        tokens[id] = token
    }
    return (vocab, tokens)
}

/// Parses the `model` object of tokenizer.json.
func parseModel(_ field: JSONField) throws(TokenizerError) -> any TokenizerModel {
    // Files written by old versions of the library have no `type`; their shape says BPE.
    let hasMerges = try field.optional("merges") != nil
    let type = try field.optional("type")?.string() ?? (hasMerges ? "BPE" : "")
    switch type {
    case "BPE": return try BPE(field)
    case "WordPiece": return try WordPiece(field)
    case "WordLevel": return try WordLevel(field)
    default:
        let typeField = try field.optional("type") ?? field
        throw typeField.unsupported("the model type \"\(type)\"")
    }
}
