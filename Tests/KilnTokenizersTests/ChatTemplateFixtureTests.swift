// Every case of the real-template fixtures and of the tiny models' tokenizer references must
// render byte-identically to transformers (or fail where it failed).

import Foundation
import KilnTokenizers
import Testing

enum ChatTemplateFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func json(_ url: URL) throws -> JSONValue {
        try JSONValue.parse(Array(try Data(contentsOf: url)))
    }

    static var chatTemplateFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("chat-templates").path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }

    static var modelFolders: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent($0).appendingPathComponent("tokenizer_reference.json").path)
        }.sorted()
    }

    /// "2024-07-26" or "2024-07-26T12:00:00".
    static func date(_ text: String) -> ChatTemplateDate? {
        let numbers = text.split { !$0.isNumber }.compactMap { Int($0) }
        guard numbers.count >= 3 else { return nil }
        let time = numbers.dropFirst(3) + [0, 0, 0]
        return ChatTemplateDate(year: numbers[0], month: numbers[1], day: numbers[2], hour: time[3], minute: time[4], second: time[5])
    }
}

/// Checks one rendering against its expectation; returns a failure description or nil.
private func mismatch(_ template: ChatTemplate, _ testCase: JSONValue, tools: [JSONValue]?, variables: [String: JSONValue], now: ChatTemplateDate?) -> String? {
    let messages = testCase["messages"]?.array ?? []
    let addGenerationPrompt = testCase["add_generation_prompt"]?.bool ?? false
    let result = Result { () throws(ChatTemplateError) in
        try template.render(messages: messages, tools: tools, addGenerationPrompt: addGenerationPrompt, variables: variables, now: now)
    }
    switch (result, testCase["text"]?.string, testCase["error"]?.string) {
    case (.success(let text), let expected?, _):
        return text == expected ? nil : "rendered:\n\(text.debugDescription)\nexpected:\n\(expected.debugDescription)"
    case (.failure(let error), _?, _):
        return "failed: \(error)"
    case (.success(let text), nil, _):
        return "rendered \(text.debugDescription) where transformers failed"
    case (.failure(.raised(let message)), nil, let expected?):
        return expected == message || expected == "TemplateError: \(message)" ? nil : "raised \(message.debugDescription), expected \(expected.debugDescription)"
    case (.failure, nil, _):
        return nil
    }
}

@Suite struct ChatTemplateFixtureTests {
    @Test(arguments: ChatTemplateFixtures.chatTemplateFiles)
    func realTemplate(_ file: String) throws {
        let fixture = try ChatTemplateFixtures.json(ChatTemplateFixtures.root.appendingPathComponent("chat-templates").appendingPathComponent(file))
        let template = try ChatTemplate(try #require(fixture["template"]?.string))
        let now = fixture["now"]?.string.flatMap(ChatTemplateFixtures.date)
        let cases = try #require(fixture["cases"]?.array)
        #expect(!cases.isEmpty)
        for (index, testCase) in cases.enumerated() {
            var variables: [String: JSONValue] = [:]
            for (key, value) in testCase["variables"]?.object?.members ?? [] { variables[key] = value }
            let tools = testCase["tools"]?.array
            if let problem = mismatch(template, testCase, tools: tools, variables: variables, now: now) {
                Issue.record("case \(index) (\(testCase["conversation"]?.string ?? "?"), generation prompt \(testCase["add_generation_prompt"]?.bool ?? false)): \(problem)")
            }
        }
    }

    @Test(arguments: ChatTemplateFixtures.modelFolders)
    func tinyModel(_ folder: String) throws {
        let directory = ChatTemplateFixtures.root.appendingPathComponent(folder)
        let config = try ChatTemplateFixtures.json(directory.appendingPathComponent("tokenizer_config.json"))
        let reference = try ChatTemplateFixtures.json(directory.appendingPathComponent("tokenizer_reference.json"))
        let cases = try #require(reference["chat"]?.array)
        let template = try ChatTemplate(try #require(config["chat_template"]?.string))
        var variables: [String: JSONValue] = [:]
        for name in ["bos_token", "eos_token", "unk_token", "pad_token"] {
            // Special tokens are strings, or AddedToken objects with a `content`.
            if let token = config[name]?.string ?? config[name]?["content"]?.string { variables[name] = .string(token) }
        }
        for (index, testCase) in cases.enumerated() {
            if let problem = mismatch(template, testCase, tools: nil, variables: variables, now: nil) {
                Issue.record("chat case \(index): \(problem)")
            }
        }
    }
}
