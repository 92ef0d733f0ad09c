// Tokens added on top of the model's vocabulary (`added_tokens` in tokenizer.json), with the
// flags that decide how they are matched in text.

struct AddedToken: Sendable {
    let id: Int32
    let content: String
    let special: Bool
    let singleWord: Bool
    let lstrip: Bool
    let rstrip: Bool
    /// Matched on normalized text (true) or on the raw input (false).
    let normalized: Bool

    init(_ field: JSONField, model: any TokenizerModel) throws(TokenizerError) {
        content = try field.required("content").string()
        special = try field.optionalBool("special") ?? false
        singleWord = try field.optionalBool("single_word") ?? false
        lstrip = try field.optionalBool("lstrip") ?? false
        rstrip = try field.optionalBool("rstrip") ?? false
        normalized = try field.optionalBool("normalized") ?? !special
        // A token the model already has keeps the model's id, as AddedVocabulary::add_tokens does.
        let fileId = try field.required("id").int()
        guard fileId >= 0 && fileId <= Int(Int32.max) else { throw try field.required("id").invalid("ids must be non-negative 32-bit integers") }
        id = model.id(forToken: content) ?? Int32(fileId)
    }
}
