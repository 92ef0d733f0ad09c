// Real chat templates against transformers' renderings: every case of every fixture file,
// and the chat cases of the tiny model fixtures.

import Foundation
import KilnTokenizers
import Testing

private let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

private func loadJSON(_ url: URL) throws -> JSONValue {
    try JSONValue.parse(Array(try Data(contentsOf: url)))
}

private func fixtureFiles() -> [String] {
    let directory = fixturesDirectory.appendingPathComponent("chat-templates")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasSuffix(".json") }.sorted()
}

private func modelFixtures() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: fixturesDirectory.path)) ?? []
    return names.filter {
        FileManager.default.fileExists(atPath: fixturesDirectory.appendingPathComponent($0).appendingPathComponent("tokenizer_reference.json").path)
    }.sorted()
}

/// "2024-07-26T12:00:00" or "2024-07-26".
private func parseDate(_ text: String) -> ChatTemplateDate? {
    let numbers = text.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
    guard numbers.count >= 3 else { return nil }
    return ChatTemplateDate(year: numbers[0], month: numbers[1], day: numbers[2],
                            hour: numbers.count > 3 ? numbers[3] : 0, minute: numbers.count > 4 ? numbers[4] : 0,
                            second: numbers.count > 5 ? numbers[5] : 0)
}

/// Checks one rendering against `text` or `error` ("TemplateError: msg" is a raise_exception).
private func check(_ result: Result<String, ChatTemplateError>, _ expected: JSONValue, _ label: String) {
    if let error = expected["error"]?.string {
        switch result {
        case .success(let text):
            Issue.record("\(label): expected error \(error), rendered \(text.debugDescription)")
        case .failure(let failure):
            if error.hasPrefix("TemplateError: ") {
                #expect(failure == .raised(String(error.dropFirst("TemplateError: ".count))), "\(label)")
            } else if !error.contains(":") {
                #expect(failure == .raised(error), "\(label)")
            }
        }
    } else {
        switch result {
        case .success(let text): #expect(text == expected["text"]?.string, "\(label)")
        case .failure(let failure): Issue.record("\(label): \(failure)")
        }
    }
}

@Suite struct ChatTemplateFixtureTests {
    @Test(arguments: fixtureFiles())
    func rendersLikeTransformers(_ file: String) throws {
        let fixture = try loadJSON(fixturesDirectory.appendingPathComponent("chat-templates").appendingPathComponent(file))
        let template = try ChatTemplate(try #require(fixture["template"]?.string))
        let now = fixture["now"]?.string.flatMap(parseDate)
        for (index, testCase) in (fixture["cases"]?.array ?? []).enumerated() {
            let variables = testCase["variables"]?.object.map { Dictionary($0.members.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }) } ?? [:]
            let result = Result { () throws(ChatTemplateError) in
                try template.render(messages: testCase["messages"]?.array ?? [], tools: testCase["tools"]?.array,
                                    addGenerationPrompt: testCase["add_generation_prompt"]?.bool ?? false,
                                    variables: variables, now: now)
            }
            check(result, testCase, "\(file) case \(index) (\(testCase["conversation"]?.string ?? ""))")
        }
    }

    @Test(arguments: modelFixtures())
    func modelChatTemplates(_ name: String) throws {
        let folder = fixturesDirectory.appendingPathComponent(name)
        let config = try loadJSON(folder.appendingPathComponent("tokenizer_config.json"))
        let reference = try loadJSON(folder.appendingPathComponent("tokenizer_reference.json"))
        let template = try ChatTemplate(try #require(config["chat_template"]?.string))
        var variables: [String: JSONValue] = [:]
        for key in ["bos_token", "eos_token"] {
            if let token = config[key]?.string { variables[key] = .string(token) }
        }
        for (index, testCase) in (reference["chat"]?.array ?? []).enumerated() {
            let result = Result { () throws(ChatTemplateError) in
                try template.render(messages: testCase["messages"]?.array ?? [],
                                    addGenerationPrompt: testCase["add_generation_prompt"]?.bool ?? false, variables: variables)
            }
            check(result, testCase, "\(name) chat case \(index)")
        }
    }
}
