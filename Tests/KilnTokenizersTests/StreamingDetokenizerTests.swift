// Streaming decode, fed one id at a time, must add up to the full decode and never show a
// U+FFFD that the full decode does not have (byte-level and byte-fallback tokens split
// characters across ids).

import Foundation
import KilnTokenizers
import Testing

private func streamed(_ tokenizer: Tokenizer, _ ids: [Int32], skipSpecialTokens: Bool) throws -> [String] {
    var stream = tokenizer.makeStreamingDetokenizer(skipSpecialTokens: skipSpecialTokens)
    var pieces: [String] = []
    for id in ids { pieces.append(try stream.append(id)) }
    pieces.append(stream.finish())
    return pieces
}

private func checkStreaming(directory: String) throws {
    let tokenizer = try TokenizerCache.shared.tokenizer(directory)
    for reference in try referenceCases(directory: directory) {
        for skip in [false, true] {
            let full = try tokenizer.decode(reference.ids, skipSpecialTokens: skip)
            let pieces = try streamed(tokenizer, reference.ids, skipSpecialTokens: skip)
            #expect(pieces.joined().utf8Bytes == full.utf8Bytes, "\(reference.text.debugDescription) skip=\(skip): \(pieces)")
            let fullHasReplacement = full.unicodeScalars.contains("\u{FFFD}")
            #expect(fullHasReplacement || !pieces.contains { $0.unicodeScalars.contains("\u{FFFD}") },
                    "\(reference.text.debugDescription): a piece shows U+FFFD: \(pieces)")
        }
    }
}

@Suite struct StreamingDetokenizerTests {
    @Test(arguments: Fixtures.tinyNames + Fixtures.syntheticNames.map { "synthetic/" + $0 })
    func piecesAddUpToTheFullDecode(_ name: String) throws {
        let directory = name.hasPrefix("synthetic/") ? Fixtures.directory(synthetic: String(name.dropFirst(10))) : Fixtures.directory(tiny: name)
        try checkStreaming(directory: directory)
    }

    @Test(.enabled(if: Fixtures.realAvailable, "../shared/fixtures/tokenizers/*.tar.xz is absent"), arguments: Fixtures.realNames)
    func realTokenizerPiecesAddUpToTheFullDecode(_ name: String) throws {
        try checkStreaming(directory: try #require(Fixtures.directory(real: name)))
    }

    @Test(.enabled(if: Fixtures.realAvailable, "../shared/fixtures/tokenizers/*.tar.xz is absent"))
    func emojiSplitAcrossByteLevelTokensComesOutWhole() throws {
        let tokenizer = try TokenizerCache.shared.tokenizer(try #require(Fixtures.directory(real: "gpt-2")))
        let ids = tokenizer.encode("a 🦩 b")
        // GPT-2 spells the flamingo with several byte tokens: none of them alone is text.
        #expect(ids.count > 3)
        let pieces = try streamed(tokenizer, ids, skipSpecialTokens: false)
        #expect(pieces.contains(" 🦩"))
        #expect(pieces.joined() == "a 🦩 b")
    }

    @Test(.enabled(if: Fixtures.realAvailable, "../shared/fixtures/tokenizers/*.tar.xz is absent"))
    func byteFallbackCharacterWaitsForItsLastByte() throws {
        let tokenizer = try TokenizerCache.shared.tokenizer(try #require(Fixtures.directory(real: "llama-spm")))
        let ids = tokenizer.encode("x 🦩", addSpecialTokens: false)
        let tokens = try tokenizer.tokens(ids)
        #expect(tokens.suffix(4) == ["<0xF0>", "<0x9F>", "<0xA6>", "<0xA9>"])
        var stream = tokenizer.makeStreamingDetokenizer()
        let pieces = try ids.map { id throws(TokenizerError) in try stream.append(id) }
        #expect(pieces.suffix(3) == ["", "", ""])
        #expect(pieces.joined() + stream.finish() == "x 🦩")
    }

    @Test func unknownIdIsAnError() throws {
        let tokenizer = try TokenizerCache.shared.tokenizer(Fixtures.directory(tiny: "qwen2-tied"))
        var stream = tokenizer.makeStreamingDetokenizer()
        #expect(throws: TokenizerError.idOutOfRange(id: 99_999, vocabularySize: tokenizer.vocabularySize)) { try stream.append(99_999) }
    }
}
