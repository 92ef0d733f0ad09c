// `kiln template`: a conversation rendered through a chat template, exactly as the model sees it.

import ArgumentParser
import FoundationEssentials
import Kiln
import KilnTokenizers

struct Template: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Render a conversation with a chat template.")

    @Option(help: "A model folder or .gguf file: its chat template and special tokens.")
    var model: String?
    @Option(help: "A Jinja template file (instead of --model).")
    var template: String?
    @Option(help: "A JSON file holding the messages array.")
    var messages: String
    @Option(help: "A JSON file holding the tools array.")
    var tools: String?
    @Flag(name: .customLong("add-generation-prompt"), help: "End with the assistant's turn header.")
    var addGenerationPrompt = false
    @Option(name: .customLong("var"), help: "A template variable NAME=VALUE (e.g. bos_token=<s>); overrides the model's.")
    var variables: [String] = []
    @Option(help: "The date strftime_now sees, YYYY-MM-DD (default: today, UTC).")
    var now: String?

    func validate() throws {
        guard (model == nil) != (template == nil) else { throw ValidationError("give exactly one of --model and --template") }
    }

    func run() throws {
        let messageList = try readJSONArray(messages, option: "--messages")
        let toolList = try tools.map { try readJSONArray($0, option: "--tools") }
        var extra: [String: JSONValue] = [:]
        for assignment in variables {
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ValidationError("--var \(assignment): expected NAME=VALUE")
            }
            extra[String(assignment[..<equals])] = .string(String(assignment[assignment.index(after: equals)...]))
        }
        let date = try now.map(parseDate)
        let text: String
        if let model {
            let tokenizer = try loadTokenizer(model: model)
            text = try tokenizer.applyChatTemplate(messages: messageList, tools: toolList, addGenerationPrompt: addGenerationPrompt,
                                                   variables: extra, now: date)
        } else {
            guard let data = FileManager.default.contents(atPath: template!) else { throw ValidationError("cannot read --template \(template!)") }
            text = try ChatTemplate(String(decoding: data, as: UTF8.self))
                .render(messages: messageList, tools: toolList, addGenerationPrompt: addGenerationPrompt, variables: extra, now: date)
        }
        print(text, terminator: "")
    }

    private func parseDate(_ text: String) throws -> ChatTemplateDate {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else {
            throw ValidationError("--now \(text): expected YYYY-MM-DD")
        }
        return ChatTemplateDate(year: parts[0], month: parts[1], day: parts[2])
    }
}

/// The JSON array in `path`, or a validation error naming the option and what was `expected`.
func readJSONArray(_ path: String, option: String, expected: String = "a JSON array") throws -> [JSONValue] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(option): cannot read \(path)") }
    let value: JSONValue
    do { value = try JSONValue.parse([UInt8](data)) } catch { throw ValidationError("\(option): \(path) is not JSON (\(error))") }
    guard let array = value.array else { throw ValidationError("\(option): \(path) must hold \(expected)") }
    return array
}
