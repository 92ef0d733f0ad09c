// Bad input must fail with an error that names the file, the field path or the unsupported
// type, rather than crash or load something wrong.

import Foundation
import KilnTokenizers
import Testing

/// A temporary directory holding the given files.
private func directory(with files: [String: String]) throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    return url.path
}

/// The smallest tokenizer.json: a byte-level-free BPE over three characters.
private func tokenizerJSON(model: String = #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}"#,
                           normalizer: String = "null", preTokenizer: String = "null", decoder: String = "null") -> String {
    #"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [], "normalizer": \#(normalizer), "pre_tokenizer": \#(preTokenizer), "post_processor": null, "decoder": \#(decoder), "model": \#(model)}"#
}

private func loadError(_ files: [String: String]) throws -> TokenizerError? {
    let dir = try directory(with: files)
    do {
        _ = try Tokenizer.load(directory: dir)
        return nil
    } catch {
        return error
    }
}

@Suite struct LoadingErrorTests {
    @Test func minimalTokenizerLoadsAndMerges() throws {
        let tokenizer = try Tokenizer.load(directory: try directory(with: ["tokenizer.json": tokenizerJSON()]))
        #expect(tokenizer.encode("abba") == [2, 1, 0])
        #expect(try tokenizer.decode([2, 1, 0]) == "ab b a")
    }

    @Test func missingTokenizerJSONNamesTheFile() throws {
        let error = try #require(try loadError(["tokenizer_config.json": "{}"]))
        guard case .fileNotFound(let file) = error else { Issue.record("got \(error)"); return }
        #expect(file.hasSuffix("/tokenizer.json"))
        #expect(error.description.contains("tokenizer.json"))
    }

    @Test func malformedJSONNamesFileAndLine() throws {
        let error = try #require(try loadError(["tokenizer.json": "{\n  \"model\": {\n    \"type\": \"BPE\",,\n  }\n}"]))
        guard case .malformedJSON(let file, let json) = error else { Issue.record("got \(error)"); return }
        #expect(file.hasSuffix("tokenizer.json"))
        #expect(json.line == 3)
        #expect(error.description.contains("tokenizer.json:3:"))
    }

    @Test func malformedConfigFileIsNamed() throws {
        let error = try #require(try loadError(["tokenizer.json": tokenizerJSON(), "generation_config.json": "{\"eos_token_id\": [1,}"]))
        guard case .malformedJSON(let file, _) = error else { Issue.record("got \(error)"); return }
        #expect(file.hasSuffix("generation_config.json"))
    }

    @Test func missingFieldNamesItsPath() throws {
        let error = try #require(try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0}}"#)]))
        #expect(error == .missingField(file: error.file, path: "model.merges"))
    }

    @Test func illTypedFieldNamesItsPath() throws {
        let badMerge = try #require(try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b", 7]}"#)]))
        guard case .wrongType(_, let path, _) = badMerge else { Issue.record("got \(badMerge)"); return }
        #expect(path == "model.merges[1]")

        let badVocab = try #require(try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": "zero"}, "merges": []}"#)]))
        guard case .wrongType(_, let vocabPath, _) = badVocab else { Issue.record("got \(badVocab)"); return }
        #expect(vocabPath == "model.vocab.a")

        let badEos = try #require(try loadError(["tokenizer.json": tokenizerJSON(), "generation_config.json": #"{"eos_token_id": "2"}"#]))
        guard case .wrongType(let file, let eosPath, _) = badEos else { Issue.record("got \(badEos)"); return }
        #expect(file.hasSuffix("generation_config.json") && eosPath == "eos_token_id")
    }

    @Test func mergeOfUnknownTokenNamesTheMerge() throws {
        let error = try #require(try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}"#)]))
        guard case .invalidValue(_, let path, let reason) = error else { Issue.record("got \(error)"); return }
        #expect(path == "model.merges[0]")
        #expect(reason.contains("\"ab\""))
    }

    @Test func unknownComponentTypesAreNamed() throws {
        let cases: [(String, String)] = [
            (tokenizerJSON(model: #"{"type": "Unigram", "vocab": [["a", 0.0]]}"#), "Unigram"),
            (tokenizerJSON(normalizer: #"{"type": "Precompiled", "precompiled_charsmap": ""}"#), "Precompiled"),
            (tokenizerJSON(preTokenizer: #"{"type": "UnicodeScripts"}"#), "UnicodeScripts"),
            (tokenizerJSON(decoder: #"{"type": "CTC"}"#), "CTC"),
        ]
        for (json, type) in cases {
            let error = try #require(try loadError(["tokenizer.json": json]))
            guard case .unsupported(_, _, let what) = error else { Issue.record("\(type): got \(error)"); continue }
            #expect(what.contains("\"\(type)\""))
            #expect(error.description.contains(type))
        }
    }

    @Test func dropoutIsRefused() throws {
        let error = try #require(try loadError(["tokenizer.json": tokenizerJSON(model: #"{"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []}"#)]))
        guard case .unsupported(_, let path, _) = error else { Issue.record("got \(error)"); return }
        #expect(path == "model.dropout")
    }

    @Test func outOfRangeIdsAreErrors() throws {
        let tokenizer = try Tokenizer.load(directory: try directory(with: ["tokenizer.json": tokenizerJSON()]))
        #expect(throws: TokenizerError.idOutOfRange(id: 3, vocabularySize: 3)) { try tokenizer.decode([0, 3]) }
        #expect(throws: TokenizerError.idOutOfRange(id: -1, vocabularySize: 3)) { try tokenizer.tokens([-1]) }
    }
}

private extension TokenizerError {
    var file: String {
        switch self {
        case .fileNotFound(let file), .unreadableFile(let file, _), .malformedJSON(let file, _), .missingField(let file, _),
             .wrongType(let file, _, _), .invalidValue(let file, _, _), .unsupported(let file, _, _): file
        case .idOutOfRange: ""
        }
    }
}
