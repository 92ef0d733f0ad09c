// What Split, Replace and ByteLevel search for: a literal, a well-known GPT-2/Llama-3/Qwen2 regex
// (hand-written matchers, exact to onig), or any other regex through Swift's Regex engine.

/// A searchable pattern. `matches(in:)` gives onig's `find_iter`: leftmost, non-overlapping.
enum SplitPattern: Sendable {
    case literal([Unicode.Scalar])
    case gpt2
    /// The Llama-3 pattern (`\p{N}{1,3}`, `maxDigits` 3) and Qwen2's (`\p{N}`, `maxDigits` 1).
    case llama3(maxDigits: Int)
    case regex(CompiledRegex)

    static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// A regex source: the well-known ones get their exact matcher, others Swift's engine.
    static func regex(_ source: String, field: JSONField) throws(TokenizerError) -> SplitPattern {
        switch source {
        case gpt2Source: return .gpt2
        case llama3Source: return .llama3(maxDigits: 3)
        case qwen2Source: return .llama3(maxDigits: 1)
        default: return .regex(try CompiledRegex(source, field: field))
        }
    }

    /// The `{"String": ...}` or `{"Regex": ...}` object of a Split, Replace normalizer or decoder.
    static func parse(_ field: JSONField) throws(TokenizerError) -> SplitPattern {
        if let literal = try field.optional("String") { return .literal(Array(try literal.string().unicodeScalars)) }
        if let regex = try field.optional("Regex") { return try .regex(try regex.string(), field: regex) }
        throw field.invalid("expected {\"String\": ...} or {\"Regex\": ...}")
    }

    /// The matches in `text`, as ranges of scalar indices, in order and not overlapping.
    func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
        switch self {
        case .literal(let needle): return literalMatches(of: needle, in: text)
        case .gpt2: return wellKnownMatches(in: text, gpt2MatchEnd)
        case .llama3(let maxDigits): return wellKnownMatches(in: text) { llama3MatchEnd($0, $1, maxDigits: maxDigits) }
        case .regex(let regex): return regex.matches(in: text)
        }
    }
}

/// Every position starts a match of the well-known patterns, so they tile the text.
private func wellKnownMatches(in text: [Unicode.Scalar], _ matchEnd: ([Unicode.Scalar], Int) -> Int) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var start = 0
    while start < text.count {
        let end = matchEnd(text, start)
        ranges.append(start..<end)
        start = end
    }
    return ranges
}

/// Non-overlapping occurrences, left to right (a regex of the escaped literal).
private func literalMatches(of needle: [Unicode.Scalar], in text: [Unicode.Scalar]) -> [Range<Int>] {
    guard let first = needle.first, text.count >= needle.count else { return [] }
    var ranges: [Range<Int>] = []
    var i = 0
    let last = text.count - needle.count
    while i <= last {
        if text[i] == first && (needle.count == 1 || text[i..<(i + needle.count)].elementsEqual(needle)) {
            ranges.append(i..<(i + needle.count))
            i += needle.count
        } else {
            i += 1
        }
    }
    return ranges
}
