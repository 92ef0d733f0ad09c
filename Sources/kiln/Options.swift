// Options and parsing shared by several commands.

import ArgumentParser
import FoundationEssentials

struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A Hugging Face model folder (config.json, *.safetensors).")
    var model: String
}

struct PromptOptions: ParsableArguments {
    @Option(name: .customLong("prompt-ids"), help: "Prompt token ids, comma separated (e.g. 1,2,3).")
    var promptIds: String

    /// The ids, or a validation error naming the bad entry.
    func ids() throws -> [Int32] {
        let parts = promptIds.split(separator: ",", omittingEmptySubsequences: false)
        return try parts.map { part in
            let text = String(part.filter { !$0.isWhitespace })
            guard let id = Int32(text), id >= 0 else {
                throw ValidationError("--prompt-ids: '\(text)' is not a token id (expected non-negative integers separated by commas)")
            }
            return id
        }
    }
}

/// Prints one line of JSON on stdout: an object with `fields` in the order given.
func printJSONObject(_ fields: KeyValuePairs<String, any Encodable>) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    let members = try fields.map { key, value in
        "\"\(key)\":" + String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    print("{" + members.joined(separator: ",") + "}")
}
