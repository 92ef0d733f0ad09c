// Splits template source into text and tag tokens, applying whitespace control the way
// jinja2's lexer does with trim_blocks and lstrip_blocks on (transformers' settings).

struct Token: Sendable {
    enum Kind: Sendable, Equatable {
        case text, variableBegin, variableEnd, blockBegin, blockEnd
        case name, string, integer, float, op, end
    }

    let kind: Kind
    let value: String
    let line: Int
    let column: Int

    func isOp(_ op: String) -> Bool { kind == .op && value == op }
    func isName(_ name: String) -> Bool { kind == .name && value == name }
}

struct Lexer {
    private let source: [Unicode.Scalar]
    private var position = 0
    private var line = 1
    private var lineStart = 0
    /// jinja2's `line_starting`: the last tag ended with a newline, so lstrip_blocks also
    /// strips a tag's indentation when no newline precedes it in the text before the tag.
    private var lineStarting = true
    private var tokens: [Token] = []

    /// jinja2 first normalizes newlines to "\n" and, without keep_trailing_newline, drops
    /// one trailing newline.
    private init(_ text: String) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var previousWasCR = false
        for scalar in text.unicodeScalars {
            if scalar == "\n" && previousWasCR { previousWasCR = false; continue }
            previousWasCR = scalar == "\r"
            scalars.append(previousWasCR ? "\n" : scalar)
        }
        if scalars.last == "\n" { scalars.removeLast() }
        source = scalars
    }

    /// The tokens of `text`, ending with an `.end` token.
    static func tokenize(_ text: String) throws(ChatTemplateError) -> [Token] {
        var lexer = Lexer(text)
        try lexer.run()
        lexer.emit(.end, "")
        return lexer.tokens
    }

    private func peek() -> Unicode.Scalar? { position < source.count ? source[position] : nil }

    private func matches(_ literal: String, at index: Int) -> Bool {
        var i = index
        for scalar in literal.unicodeScalars {
            guard i < source.count, source[i] == scalar else { return false }
            i += 1
        }
        return true
    }

    private func isWhitespace(_ i: Int) -> Bool { i < source.count && source[i].properties.isWhitespace }

    private func error(_ message: String) -> ChatTemplateError {
        .syntax(line: line, column: position - lineStart + 1, message: message)
    }

    /// Moves to `index`, counting the newlines passed.
    private mutating func advance(to index: Int) {
        while position < index {
            if source[position] == "\n" { line += 1; lineStart = position + 1 }
            position += 1
        }
    }

    private mutating func emit(_ kind: Token.Kind, _ value: String, line: Int? = nil, column: Int? = nil) {
        tokens.append(Token(kind: kind, value: value, line: line ?? self.line, column: column ?? (position - lineStart + 1)))
    }

    private mutating func run() throws(ChatTemplateError) {
        while position < source.count {
            guard let tagStart = nextTagStart(from: position) else {
                emitText(position..<source.count, sign: nil, lstrip: false)
                advance(to: source.count)
                return
            }
            let opener = source[tagStart + 1]
            let signIndex = tagStart + 2
            let sign: Unicode.Scalar? = signIndex < source.count && (source[signIndex] == "-" || source[signIndex] == "+") ? source[signIndex] : nil
            let rawEnd = opener == "%" ? rawBeginEnd(at: tagStart) : nil
            emitText(position..<tagStart, sign: sign, lstrip: opener != "{")
            advance(to: tagStart)
            let afterOpener = signIndex + (sign == nil ? 0 : 1)
            if let rawEnd {
                advance(to: rawEnd)
                lineStarting = source[rawEnd - 1] == "\n"
                try lexRawBody()
            } else if opener == "#" {
                try lexComment(from: afterOpener)
            } else {
                emit(opener == "{" ? .variableBegin : .blockBegin, "")
                advance(to: afterOpener)
                try lexTag(isBlock: opener == "%")
            }
        }
    }

    private func nextTagStart(from start: Int) -> Int? {
        var i = start
        while i + 1 < source.count {
            if source[i] == "{", source[i + 1] == "{" || source[i + 1] == "%" || source[i + 1] == "#" { return i }
            i += 1
        }
        return nil
    }

    /// Emits the text before a tag after applying `-` (strip all whitespace before) or
    /// lstrip_blocks (strip a block or comment tag's indentation when it starts a line;
    /// `+` opts out).
    private mutating func emitText(_ range: Range<Int>, sign: Unicode.Scalar?, lstrip: Bool) {
        var end = range.upperBound
        if sign == "-" {
            while end > range.lowerBound, source[end - 1].properties.isWhitespace { end -= 1 }
        } else if sign != "+" && lstrip {
            var lineBegin = end
            while lineBegin > range.lowerBound, source[lineBegin - 1] != "\n" { lineBegin -= 1 }
            if (lineBegin > range.lowerBound || lineStarting) && lineBegin < end
                && source[lineBegin..<end].allSatisfy({ $0.properties.isWhitespace }) {
                end = lineBegin
            }
        }
        if end > range.lowerBound {
            emit(.text, String(String.UnicodeScalarView(source[range.lowerBound..<end])))
        }
    }

    /// Where `{% raw %}` at `start` ends (after the whitespace `-%}` strips), if it is one.
    private func rawBeginEnd(at start: Int) -> Int? {
        var i = start + 2
        if i < source.count, source[i] == "-" || source[i] == "+" { i += 1 }
        while isWhitespace(i) { i += 1 }
        guard matches("raw", at: i) else { return nil }
        i += 3
        while isWhitespace(i) { i += 1 }
        if matches("-%}", at: i) {
            i += 3
            while isWhitespace(i) { i += 1 }
            return i
        }
        return matches("%}", at: i) ? i + 2 : nil
    }

    /// The body of a raw block as text, up to and including `{% endraw %}`.
    private mutating func lexRawBody() throws(ChatTemplateError) {
        var i = position
        while let tagStart = nextTagStart(from: i) {
            i = tagStart + 1
            guard source[tagStart + 1] == "%" else { continue }
            var j = tagStart + 2
            let sign: Unicode.Scalar? = j < source.count && (source[j] == "-" || source[j] == "+") ? source[j] : nil
            if sign != nil { j += 1 }
            while isWhitespace(j) { j += 1 }
            guard matches("endraw", at: j) else { continue }
            j += 6
            while isWhitespace(j) { j += 1 }
            guard let end = blockEnd(at: j) else { continue }
            emitText(position..<tagStart, sign: sign, lstrip: true)
            advance(to: end)
            lineStarting = source[end - 1] == "\n"
            return
        }
        throw error("missing end of raw directive")
    }

    /// Where a block's closing `%}` at `index` ends: after trim_blocks' newline, or after the
    /// whitespace `-%}` strips; `+%}` keeps the newline.
    private func blockEnd(at index: Int) -> Int? {
        if matches("+%}", at: index) { return index + 3 }
        if matches("-%}", at: index) {
            var i = index + 3
            while isWhitespace(i) { i += 1 }
            return i
        }
        guard matches("%}", at: index) else { return nil }
        return index + 2 < source.count && source[index + 2] == "\n" ? index + 3 : index + 2
    }

    private mutating func lexComment(from start: Int) throws(ChatTemplateError) {
        var i = start
        while i + 1 < source.count {
            if source[i] == "#", source[i + 1] == "}" {
                var end = i + 2
                if i > start, source[i - 1] == "-" {
                    while isWhitespace(end) { end += 1 }
                } else if !(i > start && source[i - 1] == "+"), end < source.count, source[end] == "\n" {
                    end += 1
                }
                advance(to: end)
                lineStarting = source[end - 1] == "\n"
                return
            }
            i += 1
        }
        throw error("missing end of comment tag")
    }

    /// Tokens inside `{{ }}` or `{% %}` up to the closing delimiter, which only counts while
    /// brackets are balanced (so `{{ {'a': {}} }}` works).
    private mutating func lexTag(isBlock: Bool) throws(ChatTemplateError) {
        var brackets: [Unicode.Scalar] = []
        while true {
            if brackets.isEmpty {
                if isBlock, let end = blockEnd(at: position) {
                    emit(.blockEnd, "")
                    advance(to: end)
                    lineStarting = source[end - 1] == "\n"
                    return
                }
                if !isBlock, matches("}}", at: position) || matches("-}}", at: position) {
                    emit(.variableEnd, "")
                    let stripsAfter = source[position] == "-"
                    var end = position + (stripsAfter ? 3 : 2)
                    if stripsAfter { while isWhitespace(end) { end += 1 } }
                    advance(to: end)
                    lineStarting = source[end - 1] == "\n"
                    return
                }
            }
            guard let scalar = peek() else {
                throw error("unexpected end of template (expected '\(isBlock ? "%}" : "}}")')")
            }
            if scalar.properties.isWhitespace { advance(to: position + 1); continue }
            let column = position - lineStart + 1
            if scalar == "'" || scalar == "\"" {
                let tokenLine = line
                let value = try lexString(quote: scalar)
                emit(.string, value, line: tokenLine, column: column)
            } else if ("0"..."9").contains(scalar) {
                lexNumber()
            } else if scalar == "_" || scalar.properties.isAlphabetic {
                let start = position
                while let s = peek(), s == "_" || s.properties.isAlphabetic || ("0"..."9").contains(s) { position += 1 }
                emit(.name, String(String.UnicodeScalarView(source[start..<position])), column: column)
            } else {
                try lexOperator(brackets: &brackets)
            }
        }
    }

    private func isDigit(_ i: Int) -> Bool { i < source.count && ("0"..."9").contains(source[i]) }

    private mutating func lexNumber() {
        let start = position
        func digits(_ i: inout Int) {
            while isDigit(i) || (i < source.count && source[i] == "_" && isDigit(i + 1)) { i += 1 }
        }
        var i = position
        digits(&i)
        var isFloat = false
        // `a.0.1` is two item accesses: jinja2 reads no fraction right after a dot.
        let afterDot = tokens.last.map { $0.isOp(".") } ?? false
        if !afterDot, i < source.count, source[i] == ".", isDigit(i + 1) {
            i += 1
            digits(&i)
            isFloat = true
        }
        if !afterDot, i < source.count, source[i] == "e" || source[i] == "E" {
            var j = i + 1
            if j < source.count, source[j] == "+" || source[j] == "-" { j += 1 }
            if isDigit(j) {
                digits(&j)
                i = j
                isFloat = true
            }
        }
        let text = String(String.UnicodeScalarView(source[start..<i].filter { $0 != "_" }))
        emit(isFloat ? .float : .integer, text)
        position = i
    }

    /// A quoted string with Python's backslash escapes.
    private mutating func lexString(quote: Unicode.Scalar) throws(ChatTemplateError) -> String {
        var result = String.UnicodeScalarView()
        var i = position + 1
        while i < source.count {
            let scalar = source[i]
            if scalar == quote {
                advance(to: i + 1)
                return String(result)
            }
            guard scalar == "\\", i + 1 < source.count else {
                result.append(scalar)
                i += 1
                continue
            }
            let escape = source[i + 1]
            i += 2
            switch escape {
            case "n": result.append("\n")
            case "t": result.append("\t")
            case "r": result.append("\r")
            case "0": result.append("\0")
            case "a": result.append("\u{07}")
            case "b": result.append("\u{08}")
            case "f": result.append("\u{0C}")
            case "v": result.append("\u{0B}")
            case "\n": break
            case "x", "u", "U":
                let count = escape == "x" ? 2 : escape == "u" ? 4 : 8
                guard i + count <= source.count,
                      let code = UInt32(String(String.UnicodeScalarView(source[i..<i + count])), radix: 16),
                      let decoded = Unicode.Scalar(code) else { throw error("invalid \\\(escape) escape in a string") }
                result.append(decoded)
                i += count
            case "\\", "'", "\"": result.append(escape)
            default: result.append("\\"); result.append(escape)
            }
        }
        throw error("unterminated string")
    }

    private static let operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~",
                                    "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"]

    private mutating func lexOperator(brackets: inout [Unicode.Scalar]) throws(ChatTemplateError) {
        guard let op = Self.operators.first(where: { matches($0, at: position) }) else {
            throw error("unexpected character '\(source[position])'")
        }
        switch op {
        case "(": brackets.append(")")
        case "[": brackets.append("]")
        case "{": brackets.append("}")
        case ")", "]", "}":
            guard let expected = brackets.popLast() else { throw error("unexpected '\(op)'") }
            guard String(expected) == op else { throw error("unexpected '\(op)', expected '\(expected)'") }
        default: break
        }
        emit(.op, op)
        position += op.unicodeScalars.count
    }
}
