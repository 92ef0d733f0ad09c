// Splits input on added tokens before the model runs, like the Rust AddedVocabulary: raw text for
// `normalized: false` tokens first, then the normalized pieces for `normalized: true` ones.

/// A piece of the input after added-token extraction: either an added token's id, or text
/// still to pre-tokenize.
struct InputPiece {
    var text: [Unicode.Scalar]
    var id: Int32?
    var atStart: Bool
}

struct AddedVocabulary: Sendable {
    let tokens: [AddedToken]
    let idsByContent: [ExactString: Int32]
    let contentsById: [Int32: String]
    let specialContents: Set<ExactString>
    private let rawTrie: TokenTrie
    private let normalizedTrie: TokenTrie

    init(tokens: [AddedToken], normalizer: Normalizer?) {
        var unique: [AddedToken] = []
        var seen: Set<ExactString> = []
        for token in tokens where !token.content.isEmpty && seen.insert(ExactString(token.content)).inserted { unique.append(token) }
        // Special tokens take precedence over plain ones with the same text, as in the Rust trie.
        let ordered = unique.filter(\.special) + unique.filter { !$0.special }
        self.tokens = ordered
        idsByContent = Dictionary(ordered.map { (ExactString($0.content), $0.id) }, uniquingKeysWith: { first, _ in first })
        // A normalized token decodes as its normalized form, so the decoder can invert it.
        contentsById = Dictionary(ordered.map { token in
            guard token.normalized, let normalizer else { return (token.id, token.content) }
            return (token.id, String(scalars: normalizer.normalize(Array(token.content.unicodeScalars))))
        }, uniquingKeysWith: { _, last in last })
        specialContents = Set(ordered.filter(\.special).map { ExactString($0.content) })
        var raw = TokenTrie(), normalized = TokenTrie()
        for (index, token) in ordered.enumerated() {
            let scalars = Array(token.content.unicodeScalars)
            if token.normalized {
                normalized.insert(normalizer?.normalize(scalars) ?? scalars, index: index)
            } else {
                raw.insert(scalars, index: index)
            }
        }
        rawTrie = raw
        normalizedTrie = normalized
    }

    /// The input cut at added tokens, the text between them normalized.
    func extract(_ text: String, normalizer: Normalizer?) -> [InputPiece] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [InputPiece] = []
        for piece in split(scalars, trie: rawTrie, atStart: true) {
            if piece.id != nil {
                pieces.append(piece)
            } else {
                let normalized = normalizer?.normalize(piece.text) ?? piece.text
                pieces.append(contentsOf: split(normalized, trie: normalizedTrie, atStart: piece.atStart))
            }
        }
        return pieces
    }

    /// `find_matches` + `split_with_indices`: the text cut at the trie's matches, applying
    /// `single_word`, `lstrip` and `rstrip`; empty pieces dropped.
    private func split(_ text: [Unicode.Scalar], trie: TokenTrie, atStart: Bool) -> [InputPiece] {
        var pieces: [InputPiece] = []
        func add(_ range: Range<Int>, id: Int32?) {
            guard !range.isEmpty else { return }
            pieces.append(InputPiece(text: Array(text[range]), id: id, atStart: atStart && range.lowerBound == 0))
        }
        var previousEnd = 0
        for match in trie.matches(in: text) {
            let token = tokens[match.pattern]
            var start = match.range.lowerBound, end = match.range.upperBound
            if token.singleWord {
                let wordBefore = start > 0 && text[start - 1].isRegexWordCharacter
                let wordAfter = end < text.count && text[end].isRegexWordCharacter
                if wordBefore || wordAfter { continue }
            }
            if token.lstrip {
                var newStart = start
                while newStart > 0 && text[newStart - 1].isWhiteSpace { newStart -= 1 }
                start = max(newStart, previousEnd)
            }
            if token.rstrip {
                while end < text.count && text[end].isWhiteSpace { end += 1 }
            }
            if previousEnd < start { add(previousEnd..<start, id: nil) }
            add(start..<end, id: token.id)
            previousEnd = end
        }
        if previousEnd < text.count { add(previousEnd..<text.count, id: nil) }
        return pieces
    }
}
