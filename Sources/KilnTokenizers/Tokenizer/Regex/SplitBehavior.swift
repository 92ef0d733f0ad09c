// How a Split-style pre-tokenizer turns pattern matches into pieces (the `tokenizers`
// SplitDelimiterBehavior), including `invert`.

enum SplitBehavior: Sendable {
    case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous

    static func parse(_ field: JSONField) throws(TokenizerError) -> SplitBehavior {
        switch try field.string() {
        case "Removed": return .removed
        case "Isolated": return .isolated
        case "MergedWithPrevious": return .mergedWithPrevious
        case "MergedWithNext": return .mergedWithNext
        case "Contiguous": return .contiguous
        case let other: throw field.unsupported("the split behavior \"\(other)\"")
        }
    }

    /// The non-empty pieces of a text of `count` scalars, given the matches in it.
    func pieces(count: Int, matches: [Range<Int>], invert: Bool = false) -> [Range<Int>] {
        // The text as alternating (range, is-a-match) spans covering all of it.
        var spans: [(range: Range<Int>, isMatch: Bool)] = []
        var previous = 0
        for match in matches {
            if previous != match.lowerBound { spans.append((previous..<match.lowerBound, invert)) }
            spans.append((match, !invert))
            previous = match.upperBound
        }
        if previous != count || count == 0 { spans.append((previous..<count, invert)) }

        var pieces: [Range<Int>] = []
        switch self {
        case .removed:
            pieces = spans.filter { !$0.isMatch }.map(\.range)
        case .isolated:
            pieces = spans.map(\.range)
        case .mergedWithPrevious:
            var previousMatch = false
            for span in spans {
                if span.isMatch && !previousMatch, let last = pieces.last {
                    pieces[pieces.count - 1] = last.lowerBound..<span.range.upperBound
                } else {
                    pieces.append(span.range)
                }
                previousMatch = span.isMatch
            }
        case .mergedWithNext:
            var previousMatch = false
            for span in spans.reversed() {
                if span.isMatch && !previousMatch, let last = pieces.last {
                    pieces[pieces.count - 1] = span.range.lowerBound..<last.upperBound
                } else {
                    pieces.append(span.range)
                }
                previousMatch = span.isMatch
            }
            pieces.reverse()
        case .contiguous:
            var previousMatch = false
            for span in spans {
                if span.isMatch == previousMatch, let last = pieces.last {
                    pieces[pieces.count - 1] = last.lowerBound..<span.range.upperBound
                } else {
                    pieces.append(span.range)
                }
                previousMatch = span.isMatch
            }
        }
        return pieces.filter { !$0.isEmpty }
    }
}
