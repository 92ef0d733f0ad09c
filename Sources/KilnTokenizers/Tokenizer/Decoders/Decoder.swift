// Decoders turn token strings back into text, as the `tokenizers` library's `decode_chain`
// does: each maps a list of strings to a list of strings, and the result is concatenated.

indirect enum Decoder: Sendable {
    case sequence([Decoder])
    case byteLevel
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    case replace(SplitPattern, with: [Unicode.Scalar])
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)
    case wordPiece(prefix: String, cleanup: Bool)
    case bpe(suffix: String)

    static func parse(_ field: JSONField) throws(TokenizerError) -> Decoder {
        let type = try field.typeName()
        switch type {
        case "Sequence":
            return .sequence(try field.required("decoders").array().map { (f) throws(TokenizerError) in try parse(f) })
        case "ByteLevel": return .byteLevel
        case "Metaspace":
            return .metaspace(replacement: try field.optional("replacement")?.scalar() ?? "\u{2581}",
                              prependScheme: try PreTokenizer.parsePrependScheme(field))
        case "Replace":
            return .replace(try SplitPattern.parse(field.required("pattern")), with: Array(try field.required("content").string().unicodeScalars))
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            return .strip(content: try field.required("content").scalar(), start: try field.optionalInt("start") ?? 0,
                          stop: try field.optionalInt("stop") ?? 0)
        case "WordPiece":
            return .wordPiece(prefix: try field.optionalString("prefix") ?? "##", cleanup: try field.optionalBool("cleanup") ?? true)
        case "BPEDecoder": return .bpe(suffix: try field.optionalString("suffix") ?? "</w>")
        default: throw try field.required("type").unsupported("the decoder type \"\(type)\"")
        }
    }

    /// Whether a `<0xXX>` token may stand for a byte that joins its neighbours into one
    /// character, so a streaming decoder must wait for the run of such tokens to end.
    var fusesByteTokens: Bool {
        switch self {
        case .byteFallback: true
        case .sequence(let decoders): decoders.contains { $0.fusesByteTokens }
        default: false
        }
    }

    func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let decoders):
            return decoders.reduce(tokens) { $1.decodeChain($0) }
        case .byteLevel:
            // Tokens made only of byte-level characters become their bytes; others keep their UTF-8.
            var bytes: [UInt8] = []
            for token in tokens {
                let start = bytes.count
                var allMapped = true
                for scalar in token.unicodeScalars {
                    if scalar.value < 324, case let byte = byteLevelBytes[Int(scalar.value)], byte >= 0 {
                        bytes.append(UInt8(byte))
                    } else {
                        allMapped = false
                        break
                    }
                }
                if !allMapped {
                    bytes.removeSubrange(start...)
                    bytes.append(contentsOf: token.utf8)
                }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, token in
                var out = String.UnicodeScalarView()
                for scalar in token.unicodeScalars {
                    if scalar != replacement { out.append(scalar) } else if i != 0 || scheme == .never { out.append(" ") }
                }
                return String(out)
            }
        case .replace(.literal(let needle), let content):
            // The common case (SentencePiece's `▁` → space), without regex machinery.
            let target = String(scalars: needle), replacement = String(scalars: content)
            return tokens.map { replacingAll($0, target, with: replacement) }
        case .replace(let pattern, let content):
            return tokens.map { String(scalars: Normalizer.replace(pattern, with: content).normalize(Array($0.unicodeScalars))) }
        case .byteFallback:
            return decodeByteFallback(tokens)
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let scalars = Array(token.unicodeScalars)
                var startCut = 0
                while startCut < min(start, scalars.count) && scalars[startCut] == content { startCut += 1 }
                var stopCut = scalars.count
                while scalars.count - stopCut < stop && stopCut > startCut && scalars[stopCut - 1] == content { stopCut -= 1 }
                return String(scalars: scalars[startCut..<stopCut])
            }
        case .wordPiece(let prefix, let cleanup):
            return tokens.enumerated().map { i, token in
                var token = token
                if i != 0 {
                    if token.utf8.starts(with: prefix.utf8) {
                        token = String(decoding: token.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                    } else {
                        token = " " + token
                    }
                }
                return cleanup ? cleanedUp(token) : token
            }
        case .bpe(let suffix):
            return tokens.enumerated().map { i, token in
                replacingAll(token, suffix, with: i == tokens.count - 1 ? "" : " ")
            }
        }
    }
}

/// Runs of `<0xXX>` tokens become the text their bytes spell, or one U+FFFD per byte when
/// those bytes are not valid UTF-8 as a whole.
private func decodeByteFallback(_ tokens: [String]) -> [String] {
    var out: [String] = []
    var pending: [UInt8] = []
    func flush() {
        guard !pending.isEmpty else { return }
        if let text = String(validating: pending, as: UTF8.self) {
            out.append(text)
        } else {
            out.append(contentsOf: repeatElement("\u{FFFD}", count: pending.count))
        }
        pending.removeAll()
    }
    for token in tokens {
        if let byte = byteFallbackValue(token) {
            pending.append(byte)
        } else {
            flush()
            out.append(token)
        }
    }
    flush()
    return out
}

/// The byte of a `<0xXX>` token. Rust's `u8::from_str_radix` also takes a leading `+`.
func byteFallbackValue(_ token: String) -> UInt8? {
    guard token.utf8.count == 6 else { return nil }
    let utf8 = Array(token.utf8)
    guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"), utf8[2] == UInt8(ascii: "x"),
          utf8[5] == UInt8(ascii: ">") else { return nil }
    let digits = String(decoding: utf8[3..<5], as: UTF8.self)
    return UInt8(digits.hasPrefix("+") ? String(digits.dropFirst()) : digits, radix: 16)
}

/// The WordPiece decoder's `cleanup`: no space before punctuation and in common contractions.
private func cleanedUp(_ text: String) -> String {
    var text = text
    for (from, to) in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"),
                       (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")] {
        text = replacingAll(text, from, with: to)
    }
    return text
}

/// `text` with every non-overlapping occurrence of `target` replaced, left to right. Works on
/// UTF-8 bytes: a match of valid UTF-8 in valid UTF-8 always falls on scalar boundaries.
func replacingAll(_ text: String, _ target: String, with replacement: String) -> String {
    let needle = Array(target.utf8)
    guard let first = needle.first else { return text }
    var text = text
    return text.withUTF8 { bytes -> String in
        guard let firstMatch = bytes.firstIndex(of: first) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        out.append(contentsOf: bytes[..<firstMatch])
        var i = firstMatch
        while i < bytes.count {
            if bytes[i] == first, i + needle.count <= bytes.count, bytes[i..<(i + needle.count)].elementsEqual(needle) {
                out.append(contentsOf: replacement.utf8)
                i += needle.count
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
