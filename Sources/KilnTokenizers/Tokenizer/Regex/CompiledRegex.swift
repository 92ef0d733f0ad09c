// Patterns other than the well-known ones go to Swift's Regex engine, matching over Unicode
// scalars (Swift's default, grapheme clusters, would be wrong for tokenizers).

/// A regex from a tokenizer file, compiled once.
/// `Regex` is not declared Sendable, but a compiled one is immutable and its lazily lowered
/// program is published atomically, so sharing it across threads is safe.
struct CompiledRegex: @unchecked Sendable {
    let source: String
    private let regex: Regex<AnyRegexOutput>

    init(_ source: String, field: JSONField) throws(TokenizerError) {
        self.source = source
        do {
            regex = try Regex(onigCompatible(source)).matchingSemantics(.unicodeScalar)
        } catch {
            throw field.unsupported("the regex \"\(source)\" (\(error))")
        }
    }

    /// Leftmost non-overlapping matches, as scalar index ranges.
    func matches(in text: [Unicode.Scalar]) -> [Range<Int>] {
        let string = String(scalars: text)
        let scalars = string.unicodeScalars
        var ranges: [Range<Int>] = []
        var lastIndex = scalars.startIndex
        var lastOffset = 0
        for match in string.matches(of: regex) {
            let start = lastOffset + scalars.distance(from: lastIndex, to: match.range.lowerBound)
            let end = start + scalars.distance(from: match.range.lowerBound, to: match.range.upperBound)
            ranges.append(start..<end)
            lastIndex = match.range.upperBound
            lastOffset = end
        }
        return ranges
    }
}

/// `source` with the shorthand classes spelled as onig means them: Swift's `\d` also takes
/// scalars with a numeric value (`京` is ten quadrillion), onig's only Nd; `\w` is onig's
/// letters, marks, Nd and Pc.
private func onigCompatible(_ source: String) -> String {
    let word = #"\p{L}\p{M}\p{Nd}\p{Pc}"#
    var out = ""
    var inClass = false
    var scalars = source.unicodeScalars.makeIterator()
    while let c = scalars.next() {
        switch c {
        case "\\":
            guard let next = scalars.next() else { out.unicodeScalars.append(c); break }
            switch next {
            case "d": out += #"\p{Nd}"#
            case "D": out += #"\P{Nd}"#
            case "w": out += inClass ? word : "[\(word)]"
            case "W" where !inClass: out += "[^\(word)]"
            default:
                out.unicodeScalars.append(c)
                out.unicodeScalars.append(next)
            }
        case "[":
            inClass = true
            out.unicodeScalars.append(c)
        case "]":
            inClass = false
            out.unicodeScalars.append(c)
        default:
            out.unicodeScalars.append(c)
        }
    }
    return out
}
