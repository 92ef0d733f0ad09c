// Pre-tokenizers cut normalized text into words for the model, as the `tokenizers` library's
// do; some (ByteLevel, Metaspace) also rewrite the words.

/// A word-to-be: its text, and whether it begins at the start of the original input (which
/// Metaspace's `prepend_scheme: first` asks).
struct PreToken {
    var text: [Unicode.Scalar]
    var atStart: Bool
}

enum PrependScheme: Sendable {
    case always, first, never
}

indirect enum PreTokenizer: Sendable {
    case sequence([PreTokenizer])
    case split(SplitPattern, SplitBehavior, invert: Bool)
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme, split: Bool)
    case digits(individual: Bool)
    case whitespace
    case whitespaceSplit
    case punctuation(SplitBehavior)
    case charDelimiter(Unicode.Scalar)
    case bert

    static func parse(_ field: JSONField) throws(TokenizerError) -> PreTokenizer {
        let type = try field.typeName()
        switch type {
        case "Sequence":
            return .sequence(try field.required("pretokenizers").array().map { (f) throws(TokenizerError) in try parse(f) })
        case "Split":
            return .split(try SplitPattern.parse(field.required("pattern")), try SplitBehavior.parse(field.required("behavior")),
                          invert: try field.optionalBool("invert") ?? false)
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try field.optionalBool("add_prefix_space") ?? true,
                              useRegex: try field.optionalBool("use_regex") ?? true)
        case "Metaspace":
            return .metaspace(replacement: try field.optional("replacement")?.scalar() ?? "\u{2581}",
                              prependScheme: try parsePrependScheme(field), split: try field.optionalBool("split") ?? true)
        case "Digits": return .digits(individual: try field.optionalBool("individual_digits") ?? false)
        case "Whitespace": return .whitespace
        case "WhitespaceSplit": return .whitespaceSplit
        case "Punctuation":
            return .punctuation(try field.optional("behavior").map { (f) throws(TokenizerError) in try SplitBehavior.parse(f) } ?? .isolated)
        case "CharDelimiterSplit": return .charDelimiter(try field.required("delimiter").scalar())
        case "BertPreTokenizer": return .bert
        default: throw try field.required("type").unsupported("the pre-tokenizer type \"\(type)\"")
        }
    }

    /// `prepend_scheme`, or the older boolean `add_prefix_space` it replaced.
    static func parsePrependScheme(_ field: JSONField) throws(TokenizerError) -> PrependScheme {
        if let scheme = try field.optional("prepend_scheme") {
            switch try scheme.string() {
            case "always": return .always
            case "first": return .first
            case "never": return .never
            case let other: throw scheme.invalid("unknown prepend scheme \"\(other)\" (expected always, first or never)")
            }
        }
        return try field.optionalBool("add_prefix_space") ?? true ? .always : .never
    }

    func preTokenize(_ tokens: [PreToken]) -> [PreToken] {
        switch self {
        case .sequence(let stages):
            return stages.reduce(tokens) { $1.preTokenize($0) }
        case .split(let pattern, let behavior, let invert):
            return tokens.flatMap { pieces(of: $0, behavior.pieces(count: $0.text.count, matches: pattern.matches(in: $0.text), invert: invert)) }
        case .byteLevel(let addPrefixSpace, let useRegex):
            return tokens.flatMap { token -> [PreToken] in
                var token = token
                if addPrefixSpace && token.text.first != " " { token.text.insert(" ", at: 0) }
                let words = useRegex ? pieces(of: token, SplitBehavior.isolated.pieces(count: token.text.count, matches: SplitPattern.gpt2.matches(in: token.text))) : [token]
                return words.map { PreToken(text: byteLevelEncoded($0.text), atStart: $0.atStart) }
            }
        case .metaspace(let replacement, let scheme, let splits):
            return tokens.flatMap { token -> [PreToken] in
                var text = token.text.map { $0 == " " ? replacement : $0 }
                if text.first != replacement && (scheme == .always || (scheme == .first && token.atStart)) {
                    text.insert(replacement, at: 0)
                }
                let rewritten = PreToken(text: text, atStart: token.atStart)
                guard splits else { return [rewritten] }
                return pieces(of: rewritten, SplitBehavior.mergedWithNext.pieces(count: text.count, matches: scalarMatches(text) { $0 == replacement }))
            }
        case .digits(let individual):
            return tokens.flatMap { pieces(of: $0, (individual ? SplitBehavior.isolated : .contiguous).pieces(count: $0.text.count, matches: scalarMatches($0.text) { $0.isNumber })) }
        case .whitespace:
            return tokens.flatMap { pieces(of: $0, wordOrSymbolRuns($0.text)) }
        case .whitespaceSplit:
            return tokens.flatMap { pieces(of: $0, SplitBehavior.removed.pieces(count: $0.text.count, matches: scalarMatches($0.text) { $0.isWhiteSpace })) }
        case .punctuation(let behavior):
            return tokens.flatMap { pieces(of: $0, behavior.pieces(count: $0.text.count, matches: scalarMatches($0.text) { $0.isTokenizerPunctuation })) }
        case .charDelimiter(let delimiter):
            return tokens.flatMap { pieces(of: $0, SplitBehavior.removed.pieces(count: $0.text.count, matches: scalarMatches($0.text) { $0 == delimiter })) }
        case .bert:
            let words = PreTokenizer.whitespaceSplit.preTokenize(tokens)
            return PreTokenizer.punctuation(.isolated).preTokenize(words)
        }
    }
}

/// The pieces of `token` at `ranges`; only the first can still be at the input's start.
private func pieces(of token: PreToken, _ ranges: [Range<Int>]) -> [PreToken] {
    ranges.map { PreToken(text: Array(token.text[$0]), atStart: token.atStart && $0.lowerBound == 0) }
}

/// Each scalar passing `test` as its own match (how a `char` pattern matches in `tokenizers`).
private func scalarMatches(_ text: [Unicode.Scalar], _ test: (Unicode.Scalar) -> Bool) -> [Range<Int>] {
    text.indices.filter { test(text[$0]) }.map { $0..<($0 + 1) }
}

/// The Whitespace pre-tokenizer's kept matches of `\w+|[^\w\s]+`.
private func wordOrSymbolRuns(_ text: [Unicode.Scalar]) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var i = 0
    while i < text.count {
        let c = text[i]
        if c.isWhiteSpace { i += 1; continue }
        let isWord = c.isRegexWordCharacter
        var j = i + 1
        while j < text.count && text[j].isRegexWordCharacter == isWord && (isWord || !text[j].isWhiteSpace) { j += 1 }
        ranges.append(i..<j)
        i = j
    }
    return ranges
}

/// Each UTF-8 byte of `text` as its byte-level character.
func byteLevelEncoded(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
    var out: [Unicode.Scalar] = []
    out.reserveCapacity(text.count)
    for scalar in text {
        if scalar.value < 128 {
            out.append(byteLevelScalars[Int(scalar.value)])
        } else {
            for byte in UTF8.encode(scalar)! { out.append(byteLevelScalars[Int(byte)]) }
        }
    }
    return out
}
