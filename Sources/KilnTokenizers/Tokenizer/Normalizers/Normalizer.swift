// Normalizers rewrite text before pre-tokenization, as the `tokenizers` library's do. Only
// the resulting text matters here (Kiln does not report offsets), so they map scalars to scalars.

indirect enum Normalizer: Sendable {
    case sequence([Normalizer])
    case prepend([Unicode.Scalar])
    case replace(SplitPattern, with: [Unicode.Scalar])
    case unicode(NormalizationForm)
    case lowercase
    case strip(left: Bool, right: Bool)
    case stripAccents
    case bert(cleanText: Bool, handleChineseChars: Bool, stripAccents: Bool, lowercase: Bool)
    case byteLevel

    static func parse(_ field: JSONField) throws(TokenizerError) -> Normalizer {
        let type = try field.typeName()
        switch type {
        case "Sequence":
            return .sequence(try field.required("normalizers").array().map { (f) throws(TokenizerError) in try parse(f) })
        case "Prepend": return .prepend(Array(try field.required("prepend").string().unicodeScalars))
        case "Replace":
            return .replace(try SplitPattern.parse(field.required("pattern")), with: Array(try field.required("content").string().unicodeScalars))
        case "NFC": return .unicode(.nfc)
        case "NFD": return .unicode(.nfd)
        case "NFKC": return .unicode(.nfkc)
        case "NFKD": return .unicode(.nfkd)
        case "Lowercase": return .lowercase
        case "Strip":
            return .strip(left: try field.optionalBool("strip_left") ?? true, right: try field.optionalBool("strip_right") ?? true)
        case "StripAccents": return .stripAccents
        case "BertNormalizer":
            let lowercase = try field.optionalBool("lowercase") ?? true
            return .bert(cleanText: try field.optionalBool("clean_text") ?? true,
                         handleChineseChars: try field.optionalBool("handle_chinese_chars") ?? true,
                         stripAccents: try field.optionalBool("strip_accents") ?? lowercase,
                         lowercase: lowercase)
        case "ByteLevel": return .byteLevel
        default: throw try field.required("type").unsupported("the normalizer type \"\(type)\"")
        }
    }

    func normalize(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        switch self {
        case .sequence(let normalizers):
            return normalizers.reduce(text) { $1.normalize($0) }
        case .prepend(let prefix):
            return text.isEmpty ? text : prefix + text
        case .replace(let pattern, let content):
            let matches = pattern.matches(in: text)
            if matches.isEmpty { return text }
            var out: [Unicode.Scalar] = []
            out.reserveCapacity(text.count)
            var previous = 0
            for match in matches {
                out.append(contentsOf: text[previous..<match.lowerBound])
                out.append(contentsOf: content)
                previous = match.upperBound
            }
            out.append(contentsOf: text[previous...])
            return out
        case .unicode(let form):
            return KilnTokenizers.normalize(text, form: form)
        case .lowercase:
            return text.flatMap { $0.value < 128 ? [asciiLowercased($0)] : Array($0.properties.lowercaseMapping.unicodeScalars) }
        case .strip(let left, let right):
            var slice = text[...]
            if left { slice = slice.drop(while: { $0.isWhiteSpace }) }
            if right { while let last = slice.last, last.isWhiteSpace { slice.removeLast() } }
            return Array(slice)
        case .stripAccents:
            return text.filter { !$0.isMark }
        case .bert(let cleanText, let handleChineseChars, let stripAccents, let lowercase):
            var out = text
            if cleanText {
                out = out.compactMap { c -> Unicode.Scalar? in
                    if c.value == 0 || c.value == 0xFFFD || isBertControl(c) { return nil }
                    return c.isWhiteSpace ? " " : c
                }
            }
            if handleChineseChars {
                out = out.flatMap { isChineseCharacter($0) ? [" ", $0, " "] : [$0] }
            }
            // BERT strips only nonspacing marks (Mn); StripAccents strips all marks.
            if stripAccents { out = KilnTokenizers.normalize(out, form: .nfd).filter { $0.properties.generalCategory != .nonspacingMark } }
            if lowercase { out = Normalizer.lowercase.normalize(out) }
            return out
        case .byteLevel:
            return text.flatMap { scalar in UTF8.encode(scalar)!.map { byteLevelScalars[Int($0)] } }
        }
    }
}

@inline(__always) private func asciiLowercased(_ c: Unicode.Scalar) -> Unicode.Scalar {
    c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c
}

/// BERT's control test: Cc, Cf, Co (unassigned scalars are kept, as the Rust library's tables
/// do) except tab, newline and carriage return, which count as whitespace.
private func isBertControl(_ c: Unicode.Scalar) -> Bool {
    if c == "\t" || c == "\n" || c == "\r" { return false }
    switch c.properties.generalCategory {
    case .control, .format, .privateUse, .surrogate: return true
    default: return false
    }
}

/// The CJK Unified Ideograph blocks BERT pads with spaces.
private func isChineseCharacter(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
         0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
    default: return false
    }
}
