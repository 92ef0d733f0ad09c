// Splits template source into text and tag tokens, applying whitespace control the way
// jinja2's lexer does with trim_blocks and lstrip_blocks on.

struct Token: Equatable {
    enum Kind: Equatable {
        case text(String)
        case blockBegin, blockEnd, variableBegin, variableEnd
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case op(String)
        case end
    }

    let kind: Kind
    let line: Int
    let column: Int
}

struct Lexer {
    private let s: [Unicode.Scalar]
    private var pos = 0
    private var tokens: [Token] = []
    /// Whether the last tag ended a line: lstrip_blocks then also strips at the start of the
    /// next text (jinja2's `line_starting`).
    private var lineStarting = true
    /// Offsets where lines begin, to turn offsets into line and column.
    private let lineStarts: [Int]

    /// The source with newlines normalized and one trailing newline dropped, as jinja2 does
    /// (`keep_trailing_newline=False`).
    init(source: String) {
        var scalars: [Unicode.Scalar] = []
        var iterator = source.unicodeScalars.makeIterator()
        var pending = iterator.next()
        while let scalar = pending {
            pending = iterator.next()
            if scalar == "\r" {
                if pending == "\n" { pending = iterator.next() }
                scalars.append("\n")
            } else {
                scalars.append(scalar)
            }
        }
        if scalars.last == "\n" { scalars.removeLast() }
        s = scalars
        var starts = [0]
        for (i, scalar) in scalars.enumerated() where scalar == "\n" { starts.append(i + 1) }
        lineStarts = starts
    }

    static func tokenize(_ source: String) throws(ChatTemplateError) -> [Token] {
        var lexer = Lexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    private func location(_ offset: Int) -> (line: Int, column: Int) {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return (low + 1, offset - lineStarts[low] + 1)
    }

    private func error(_ message: String, at offset: Int) -> ChatTemplateError {
        let (line, column) = location(offset)
        return .syntax(line: line, column: column, message: message)
    }

    private mutating func emit(_ kind: Token.Kind, at offset: Int) {
        let (line, column) = location(offset)
        tokens.append(Token(kind: kind, line: line, column: column))
    }

    private func matches(_ literal: String, at offset: Int) -> Bool {
        var i = offset
        for scalar in literal.unicodeScalars {
            guard i < s.count, s[i] == scalar else { return false }
            i += 1
        }
        return true
    }

    private func sign(at offset: Int) -> Unicode.Scalar? {
        offset < s.count && (s[offset] == "-" || s[offset] == "+") ? s[offset] : nil
    }

    private mutating func run() throws(ChatTemplateError) {
        while pos < s.count {
            guard let start = nextTagStart(from: pos) else {
                emit(.text(String(String.UnicodeScalarView(s[pos...]))), at: pos)
                break
            }
            let kind = s[start + 1]
            let openSign = sign(at: start + 2)
            let text = strippedText(s[pos..<start], sign: openSign, isVariable: kind == "{")
            if !text.isEmpty { emit(.text(String(String.UnicodeScalarView(text))), at: pos) }
            let contentStart = start + (openSign == nil ? 2 : 3)
            switch kind {
            case "#": try skipComment(from: contentStart, tagStart: start)
            case "%" where tagEnd(from: contentStart, name: "raw") != nil: try lexRaw(afterRawTagAt: contentStart)
            default: try lexTag(from: contentStart, isBlock: kind == "%", tagStart: start)
            }
        }
        emit(.end, at: s.count)
    }

    private func nextTagStart(from offset: Int) -> Int? {
        var i = offset
        while i + 1 < s.count {
            if s[i] == "{" && (s[i + 1] == "{" || s[i + 1] == "%" || s[i + 1] == "#") { return i }
            i += 1
        }
        return nil
    }

    /// The text before a tag: `-` strips all trailing whitespace; otherwise lstrip_blocks drops
    /// the indentation of a block or comment tag that starts its line (`+` opts out).
    private func strippedText(_ text: ArraySlice<Unicode.Scalar>, sign: Unicode.Scalar?, isVariable: Bool) -> ArraySlice<Unicode.Scalar> {
        if sign == "-" {
            var end = text.endIndex
            while end > text.startIndex && isPythonWhitespace(text[end - 1]) { end -= 1 }
            return text[text.startIndex..<end]
        }
        guard sign != "+" && !isVariable else { return text }
        let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? text.startIndex
        guard lineStart > text.startIndex || lineStarting, lineStart < text.endIndex,
              text[lineStart...].allSatisfy(isPythonWhitespace) else { return text }
        return text[text.startIndex..<lineStart]
    }

    /// Moves past a tag's end: `-` also skips the whitespace after it; otherwise trim_blocks
    /// removes one newline after a block or comment tag (`+` opts out).
    private mutating func finishTag(at offset: Int, sign: Unicode.Scalar?, trimNewline: Bool) {
        pos = offset
        if sign == "-" {
            while pos < s.count && isPythonWhitespace(s[pos]) { pos += 1 }
        } else if sign == nil && trimNewline && pos < s.count && s[pos] == "\n" {
            pos += 1
        }
        lineStarting = pos > 0 && s[pos - 1] == "\n"
    }

    private mutating func skipComment(from offset: Int, tagStart: Int) throws(ChatTemplateError) {
        var i = offset
        while i + 1 < s.count && !(s[i] == "#" && s[i + 1] == "}") { i += 1 }
        guard i + 1 < s.count else { throw error("unclosed comment", at: tagStart) }
        finishTag(at: i + 2, sign: i > offset ? sign(at: i - 1) : nil, trimNewline: true)
    }

    /// If the tag at `offset` (after `{%` and its sign) is `name` alone, the offset past its
    /// `%}` and the closing sign.
    private func tagEnd(from offset: Int, name: String) -> (end: Int, sign: Unicode.Scalar?)? {
        var i = offset
        while i < s.count && isPythonWhitespace(s[i]) { i += 1 }
        guard matches(name, at: i) else { return nil }
        i += name.unicodeScalars.count
        while i < s.count && isPythonWhitespace(s[i]) { i += 1 }
        let closeSign = sign(at: i)
        if closeSign != nil { i += 1 }
        return matches("%}", at: i) ? (i + 2, closeSign) : nil
    }

    /// `{% raw %}…{% endraw %}`: the body is text; jinja2 trims no newline after `raw %}`.
    private mutating func lexRaw(afterRawTagAt offset: Int) throws(ChatTemplateError) {
        let (bodyStart, openSign) = tagEnd(from: offset, name: "raw")!
        finishTag(at: bodyStart, sign: openSign, trimNewline: false)
        var i = pos
        while i + 1 < s.count {
            if s[i] == "{" && s[i + 1] == "%" {
                let endSign = sign(at: i + 2)
                if let (end, closeSign) = tagEnd(from: i + (endSign == nil ? 2 : 3), name: "endraw") {
                    let text = strippedText(s[pos..<i], sign: endSign, isVariable: false)
                    if !text.isEmpty { emit(.text(String(String.UnicodeScalarView(text))), at: pos) }
                    finishTag(at: end, sign: closeSign, trimNewline: true)
                    return
                }
            }
            i += 1
        }
        throw error("expected 'endraw' to close 'raw'", at: offset)
    }

    /// The expression tokens of a `{% … %}` or `{{ … }}` tag, then its end marker. As in
    /// jinja2, an end marker inside open brackets is read as operators.
    private mutating func lexTag(from offset: Int, isBlock: Bool, tagStart: Int) throws(ChatTemplateError) {
        emit(isBlock ? .blockBegin : .variableBegin, at: tagStart)
        let close: Unicode.Scalar = isBlock ? "%" : "}"
        var brackets: [Unicode.Scalar] = []
        var i = offset
        while true {
            guard i < s.count else { throw error("unexpected end of template inside the tag opened here", at: tagStart) }
            if brackets.isEmpty {
                let closeSign = s[i] == "-" || (isBlock && s[i] == "+") ? s[i] : nil
                let j = closeSign == nil ? i : i + 1
                if j + 1 < s.count && s[j] == close && s[j + 1] == "}" {
                    emit(isBlock ? .blockEnd : .variableEnd, at: i)
                    finishTag(at: j + 2, sign: closeSign, trimNewline: isBlock)
                    return
                }
            }
            let c = s[i]
            if isPythonWhitespace(c) {
                i += 1
            } else if isDigit(c) {
                i = try lexNumber(at: i)
            } else if c == "_" || isLetter(c) {
                var j = i + 1
                while j < s.count && (s[j] == "_" || isLetter(s[j]) || isDigit(s[j])) { j += 1 }
                emit(.name(String(String.UnicodeScalarView(s[i..<j]))), at: i)
                i = j
            } else if c == "'" || c == "\"" {
                i = try lexString(at: i)
            } else {
                i = try lexOperator(at: i, brackets: &brackets)
            }
        }
    }

    private mutating func lexOperator(at i: Int, brackets: inout [Unicode.Scalar]) throws(ChatTemplateError) -> Int {
        for op in ["//", "**", "==", "!=", ">=", "<="] where matches(op, at: i) {
            emit(.op(op), at: i)
            return i + 2
        }
        let c = s[i]
        switch c {
        case "(", "[", "{": brackets.append(c)
        case ")", "]", "}":
            let opener: Unicode.Scalar = c == ")" ? "(" : c == "]" ? "[" : "{"
            guard brackets.last == opener else { throw error("unexpected '\(c)'", at: i) }
            brackets.removeLast()
        case "+", "-", "/", "*", "%", "~", ">", "<", "=", ".", ":", "|", ",", ";": break
        default: throw error("unexpected character '\(c)'", at: i)
        }
        emit(.op(String(c)), at: i)
        return i + 1
    }

    /// Integers and floats as jinja2 reads them (`1_000`, `2.5`, `1e3`); no float directly
    /// after a dot, so `x.0.1` stays two lookups.
    private mutating func lexNumber(at start: Int) throws(ChatTemplateError) -> Int {
        func digits(_ i: inout Int) -> Bool {
            let first = i
            while i < s.count && (isDigit(s[i]) || (s[i] == "_" && i > first && i + 1 < s.count && isDigit(s[i + 1]))) { i += 1 }
            return i > first
        }
        var i = start
        _ = digits(&i)
        var isFloat = false
        let afterDot = start > 0 && s[start - 1] == "."
        if !afterDot && i + 1 < s.count && s[i] == "." && isDigit(s[i + 1]) {
            i += 1
            _ = digits(&i)
            isFloat = true
        }
        if !afterDot && i < s.count && (s[i] == "e" || s[i] == "E") {
            var j = i + 1
            if j < s.count && (s[j] == "+" || s[j] == "-") { j += 1 }
            if digits(&j) {
                i = j
                isFloat = true
            }
        }
        let text = String(String.UnicodeScalarView(s[start..<i].filter { $0 != "_" }))
        if isFloat, let value = Double(text) {
            emit(.float(value), at: start)
        } else if let value = Int(text) {
            emit(.integer(value), at: start)
        } else {
            throw error("number too large: \(text)", at: start)
        }
        return i
    }

    private mutating func lexString(at start: Int) throws(ChatTemplateError) -> Int {
        let quote = s[start]
        var i = start + 1
        var body: [Unicode.Scalar] = []
        while i < s.count && s[i] != quote {
            if s[i] == "\\" && i + 1 < s.count {
                body.append(s[i])
                i += 1
            }
            body.append(s[i])
            i += 1
        }
        guard i < s.count else { throw error("unterminated string", at: start) }
        emit(.string(try decodeEscapes(body, at: start)), at: start)
        return i + 1
    }

    /// Python's `unicode-escape` decoding, which jinja2 applies to string literals; unknown
    /// escapes stay as written.
    private func decodeEscapes(_ body: [Unicode.Scalar], at offset: Int) throws(ChatTemplateError) -> String {
        var out = String.UnicodeScalarView()
        var i = 0
        while i < body.count {
            let c = body[i]
            guard c == "\\", i + 1 < body.count else {
                out.append(c)
                i += 1
                continue
            }
            let e = body[i + 1]
            i += 2
            switch e {
            case "\n": break
            case "\\", "'", "\"": out.append(e)
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var value = e.value - 0x30
                var count = 1
                while count < 3 && i < body.count && ("0"..."7").contains(body[i]) {
                    value = value * 8 + body[i].value - 0x30
                    i += 1
                    count += 1
                }
                out.append(Unicode.Scalar(value)!)
            case "x", "u", "U":
                let width = e == "x" ? 2 : e == "u" ? 4 : 8
                guard i + width <= body.count,
                      let value = UInt32(String(String.UnicodeScalarView(body[i..<i + width])), radix: 16),
                      let scalar = Unicode.Scalar(value) else { throw error("invalid \\\(e) escape in a string", at: offset) }
                out.append(scalar)
                i += width
            default:
                out.append("\\")
                out.append(e)
            }
        }
        return String(out)
    }
}

/// Python's `str.isspace()` characters, which `\s` and `strip()` use.
func isPythonWhitespace(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
    default: false
    }
}

private func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

private func isLetter(_ c: Unicode.Scalar) -> Bool {
    ("a"..."z").contains(c) || ("A"..."Z").contains(c) || (c.value > 0x7F && c.properties.isAlphabetic)
}
