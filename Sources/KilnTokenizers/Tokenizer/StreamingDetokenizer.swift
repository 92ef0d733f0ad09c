// Incremental decoding for generation: decodes a window of recent ids and diffs it against the
// previous window's text (the prefix/read-offset technique), O(window) per id.

/// Turns ids into text as they are generated. The pieces returned by `append` followed by
/// `finish()` concatenate to `decode(allIds)`.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    /// Ids from the start of the previous window on; older ones are dropped.
    private var ids: [Int32] = []
    /// Where, in `ids`, the ids not yet turned into text begin.
    private var readOffset = 0
    /// The text of `ids[..<readOffset]` decoded on its own.
    private var prefixText = ""

    init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the text it completes (often "", e.g. mid-character).
    public mutating func append(_ id: Int32) throws(TokenizerError) -> String {
        ids.append(id)
        // A `<0xXX>` token may still combine with the next one into a character.
        if tokenizer.decoder?.fusesByteTokens == true, byteFallbackValue(try tokenizer.token(forId: id)) != nil { return "" }
        let text = try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        // Wait while the text ends in an incomplete character.
        if text.unicodeScalars.last == "\u{FFFD}" { return "" }
        return advance(to: text)
    }

    /// The text still held back (an incomplete character at the very end decodes as U+FFFD,
    /// as `decode` does).
    public mutating func finish() -> String {
        guard readOffset < ids.count, let text = try? tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens) else { return "" }
        return advance(to: text)
    }

    /// Returns what `text` (the decode of the window) adds to `prefixText`, then slides the
    /// window: the ids just turned into text become the next window's left context, which
    /// decoders that treat the first token specially (Metaspace, Strip) see in both decodes.
    private mutating func advance(to text: String) -> String {
        let known = prefixText.unicodeScalars.count
        // Shorter or equal: nothing new yet (e.g. a skipped special token). A decoder that
        // rewrites earlier text (WordPiece cleanup across tokens) cannot take back what was
        // returned, so only what lies past it is returned.
        guard text.unicodeScalars.count > known else { return "" }
        let piece = String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(known)))
        ids.removeFirst(readOffset)
        readOffset = ids.count
        prefixText = (try? tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)) ?? ""
        return piece
    }
}
