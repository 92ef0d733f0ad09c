// The pieces behind encode, checked against values the Rust `tokenizers` library gives for
// the same input: the hand-written regex matchers, Unicode normalization, byte-exact
// vocabularies, added-token flags and the config files.

import Foundation
@testable import KilnTokenizers
import Testing

private func splits(_ pattern: SplitPattern, _ text: String) -> [String] {
    let scalars = Array(text.unicodeScalars)
    return SplitBehavior.isolated.pieces(count: scalars.count, matches: pattern.matches(in: scalars)).map { String(scalars: scalars[$0]) }
}

private func tokenizer(_ json: String, config: TokenizerConfig = TokenizerConfig()) throws -> Tokenizer {
    try Tokenizer(json: try JSONValue.parse(json), file: "test.json", config: config)
}

@Suite struct ComponentTests {
    @Test func gpt2PatternSplitsLikeOnig() {
        #expect(splits(.gpt2, "I'm  fine,\tyou'RE 12345 ok?!\n\n  x")
            == ["I", "'m", " ", " fine", ",", "\t", "you", "'", "RE", " 12345", " ok", "?!", "\n\n ", " x"])
        #expect(splits(.gpt2, "a \n\n  b\u{A0}\u{A0}c 'ſ") == ["a", " \n\n ", " b", "\u{A0}", "\u{A0}", "c", " '", "ſ"])
    }

    @Test func llama3PatternSplitsLikeOnig() {
        #expect(splits(.llama3(maxDigits: 3), "I'm  fine,\tyou'RE 12345 ok?!\n\n  x")
            == ["I", "'m", " ", " fine", ",", "\tyou", "'RE", " ", "123", "45", " ok", "?!\n\n", " ", " x"])
        #expect(splits(.llama3(maxDigits: 3), "a \n\n  b\u{A0}\u{A0}c 'ſ") == ["a", " \n\n", " ", " b", "\u{A0}", "\u{A0}c", " '", "ſ"])
        // `(?i:'s)` also matches the long s, which case-folds to s.
        #expect(splits(.llama3(maxDigits: 3), "x'ſ") == ["x", "'ſ"])
        #expect(splits(.llama3(maxDigits: 1), "12345") == ["1", "2", "3", "4", "5"])
    }

    @Test func wellKnownPatternsAreRecognizedBySource() throws {
        let field = JSONField(.null, file: "test.json")
        guard case .gpt2 = try SplitPattern.regex(SplitPattern.gpt2Source, field: field) else { Issue.record("GPT-2"); return }
        guard case .llama3(3) = try SplitPattern.regex(SplitPattern.llama3Source, field: field) else { Issue.record("Llama-3"); return }
        guard case .llama3(1) = try SplitPattern.regex(SplitPattern.qwen2Source, field: field) else { Issue.record("Qwen2"); return }
        guard case .regex = try SplitPattern.regex(#"\p{N}+"#, field: field) else { Issue.record("other"); return }
    }

    @Test func fallbackRegexUsesOnigDigitClass() throws {
        // Swift's own `\d` would take 京 (it has a numeric value); onig's is Nd only.
        let regex = try CompiledRegex(#"\d+"#, field: JSONField(.null, file: "test.json"))
        #expect(regex.matches(in: Array("a京77b".unicodeScalars)) == [2..<4])
    }

    @Test func unicodeNormalizationFormsMatchTheRustLibrary() {
        let input = Array("e\u{301}ﬁ①\u{1100}\u{1161}\u{11A8} Å\u{323}\u{307}".unicodeScalars)
        #expect(String(scalars: normalize(input, form: .nfc)) == "\u{E9}\u{FB01}\u{2460}\u{AC01} \u{1EA0}\u{30A}\u{307}")
        #expect(String(scalars: normalize(input, form: .nfd)).utf8Bytes == "e\u{301}\u{FB01}\u{2460}\u{1100}\u{1161}\u{11A8} A\u{323}\u{30A}\u{307}".utf8Bytes)
        #expect(String(scalars: normalize(input, form: .nfkc)).utf8Bytes == "\u{E9}fi1\u{AC01} \u{1EA0}\u{30A}\u{307}".utf8Bytes)
        #expect(String(scalars: normalize(input, form: .nfkd)).utf8Bytes == "e\u{301}fi1\u{1100}\u{1161}\u{11A8} A\u{323}\u{30A}\u{307}".utf8Bytes)
    }

    @Test func canonicallyEquivalentTokensStayDistinct() throws {
        // "é" precomposed and decomposed are different tokens, as in the Rust library.
        let t = try tokenizer(#"{"model": {"type": "WordLevel", "vocab": {"\u00e9": 0, "e\u0301": 1, "[UNK]": 2}, "unk_token": "[UNK]"}, "pre_tokenizer": {"type": "WhitespaceSplit"}}"#)
        #expect(t.vocabularySize == 3)
        #expect(t.encode("\u{E9} e\u{301}") == [0, 1])
        #expect(t.id(forToken: "e\u{301}") == 1)
    }

    @Test func addedTokenFlagsFollowTheRustLibrary() throws {
        let json = #"""
        {"added_tokens": [
            {"id": 3, "content": "<mask>", "single_word": true, "lstrip": true, "rstrip": true, "normalized": false, "special": true},
            {"id": 4, "content": "Yes", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}],
         "normalizer": {"type": "Lowercase"},
         "pre_tokenizer": {"type": "WhitespaceSplit"},
         "model": {"type": "WordLevel", "vocab": {"a": 0, "b": 1, "[UNK]": 2}, "unk_token": "[UNK]"}}
        """#
        let t = try tokenizer(json)
        // lstrip/rstrip swallow the spaces around the mask; single_word skips "a<mask>".
        #expect(t.encode("a  <mask>  b") == [0, 3, 1])
        #expect(t.encode("a<mask> b") == [2, 1])
        // A normalized added token matches the normalized text and decodes as its normalized form.
        #expect(t.encode("YES b") == [4, 1])
        #expect(try t.tokens([4]) == ["yes"])
        #expect(try t.decode([0, 3, 1], skipSpecialTokens: true) == "a b")
    }

    @Test func configFilesGiveSpecialTokensTemplatesAndStopIds() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-tok-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try #"{"model": {"type": "WordLevel", "vocab": {"<s>": 0, "</s>": 1, "<eot>": 2}}}"#.write(to: url.appendingPathComponent("tokenizer.json"), atomically: true, encoding: .utf8)
        try #"""
        {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "add_bos_token": true,
         "chat_template": [{"name": "default", "template": "{{ x }}"}, {"name": "tool_use", "template": "{{ y }}"}]}
        """#.write(to: url.appendingPathComponent("tokenizer_config.json"), atomically: true, encoding: .utf8)
        try #"{"eos_token_id": [1, 2], "bos_token_id": 0}"#.write(to: url.appendingPathComponent("generation_config.json"), atomically: true, encoding: .utf8)
        let t = try Tokenizer.load(directory: url.path)
        #expect(t.bosToken == "<s>" && t.bosTokenId == 0)
        #expect(t.eosToken == "</s>")
        #expect(t.eosTokenIds == [1, 2])
        #expect(t.chatTemplates == ["default": "{{ x }}", "tool_use": "{{ y }}"])
    }

    @Test func eosIdFallsBackToTheEosToken() throws {
        let t = try TokenizerCache.shared.tokenizer(Fixtures.directory(tiny: "qwen2-tied"))
        #expect(t.eosToken == "<|im_end|>")
        #expect(t.eosTokenIds == [t.id(forToken: "<|im_end|>")!])
        #expect(t.bosToken == nil && t.bosTokenId == nil)
        #expect(t.chatTemplates["default"]?.contains("<|im_start|>") == true)
    }

    @Test func byteFallbackDecodesInvalidBytesAsOneReplacementEach() {
        #expect(Decoder.byteFallback.decodeChain(["<0xE2>", "<0x82>", "a", "<0x41>"]) == ["\u{FFFD}", "\u{FFFD}", "a", "A"])
    }

    @Test func metaspaceDecoderDropsEveryReplacementOfTheFirstToken() {
        #expect(Decoder.metaspace(replacement: "▁", prependScheme: .always).decodeChain(["▁Hey▁you", "▁friend"]) == ["Heyyou", " friend"])
        #expect(Decoder.metaspace(replacement: "▁", prependScheme: .never).decodeChain(["▁Hey"]) == [" Hey"])
    }
}
