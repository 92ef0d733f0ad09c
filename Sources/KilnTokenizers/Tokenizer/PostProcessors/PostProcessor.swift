// Post-processors wrap one encoded sequence in special tokens (when the caller asks for them),
// as the `tokenizers` library's do for a single sequence. Offsets-only ones change no id.

indirect enum PostProcessor: Sendable {
    case sequence([PostProcessor])
    /// A TemplateProcessing `single` template: each item either the sequence (nil) or special ids.
    case template([[Int32]?])
    case wrap(prefix: [Int32], suffix: [Int32])
    case offsetsOnly

    static func parse(_ field: JSONField) throws(TokenizerError) -> PostProcessor {
        let type = try field.typeName()
        switch type {
        case "Sequence":
            return .sequence(try field.required("processors").array().map { (f) throws(TokenizerError) in try parse(f) })
        case "TemplateProcessing":
            let specials = try field.optional("special_tokens")
            var items: [[Int32]?] = []
            for item in try field.required("single").array() {
                if try item.optional("Sequence") != nil {
                    items.append(nil)
                } else if let special = try item.optional("SpecialToken") {
                    let name = try special.required("id").string()
                    guard let entry = try specials?.optional(name) else {
                        throw try special.required("id").invalid("the special token \"\(name)\" is not in post_processor.special_tokens")
                    }
                    items.append(try entry.required("ids").array().map { (f) throws(TokenizerError) in Int32(try f.int()) })
                } else {
                    throw item.invalid("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}")
                }
            }
            return .template(items)
        case "BertProcessing", "RobertaProcessing":
            func idOf(_ key: String) throws(TokenizerError) -> Int32 {
                let pair = try field.required(key).array()
                guard pair.count == 2 else { throw try field.required(key).invalid("expected [token, id]") }
                return Int32(try pair[1].int())
            }
            return .wrap(prefix: [try idOf("cls")], suffix: [try idOf("sep")])
        case "ByteLevel": return .offsetsOnly
        default: throw try field.required("type").unsupported("the post-processor type \"\(type)\"")
        }
    }

    func process(_ ids: [Int32], addSpecialTokens: Bool) -> [Int32] {
        guard addSpecialTokens else { return ids }
        switch self {
        case .sequence(let processors):
            return processors.reduce(ids) { $1.process($0, addSpecialTokens: true) }
        case .template(let items):
            return items.flatMap { $0 ?? ids }
        case .wrap(let prefix, let suffix):
            return prefix + ids + suffix
        case .offsetsOnly:
            return ids
        }
    }
}
