// `kiln tokenize` and `kiln detokenize`: text ↔ ids with the model's tokenizer.

import ArgumentParser
import FoundationEssentials
import Kiln
import KilnTokenizers

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Turn text into token ids with the model's tokenizer.")

    @Option(help: "A model folder holding tokenizer.json, or a .gguf file.")
    var model: String
    @Option(help: "The text to encode.")
    var text: String?
    @Option(name: .customLong("texts-file"), help: "A JSON file holding an array of strings: one line of output per string.")
    var textsFile: String?
    @Flag(name: .customLong("no-special"), help: "Do not add special tokens (BOS, templates).")
    var noSpecial = false
    @Flag(help: "Print {\"ids\":[…]} per text instead of space-separated ids.")
    var json = false
    @Flag(help: "Report load and encode times on stderr.")
    var timing = false

    func validate() throws {
        guard (text == nil) != (textsFile == nil) else { throw ValidationError("give exactly one of --text and --texts-file") }
    }

    func run() throws {
        let clock = ContinuousClock()
        let start = clock.now
        let tokenizer = try loadTokenizer(model: model)
        let loaded = clock.now
        let texts = try textsFile.map(readStrings) ?? [text!]
        let encodeStart = clock.now
        let encoded = texts.map { tokenizer.encode($0, addSpecialTokens: !noSpecial) }
        let encodeTime = clock.now - encodeStart
        var output = ""
        for ids in encoded {
            output += json ? "{\"ids\":[" + ids.map(String.init).joined(separator: ",") + "]}\n" : ids.map(String.init).joined(separator: " ") + "\n"
        }
        print(output, terminator: "")
        if timing {
            let bytes = texts.reduce(0) { $0 + $1.utf8.count }
            let seconds = encodeTime.inSeconds
            printError("load \(Int((loaded - start).inSeconds * 1000)) ms; encoded \((Double(bytes) / 1e6).rounded(toPlaces: 2)) MB in \(Int(seconds * 1000)) ms (\((Double(bytes) / 1e6 / seconds).rounded(toPlaces: 2)) MB/s)")
        }
    }

    private func readStrings(_ path: String) throws -> [String] {
        let expected = "a JSON array of strings"
        let items = try readJSONArray(path, option: "--texts-file", expected: expected)
        let strings = items.compactMap(\.string)
        guard strings.count == items.count else { throw ValidationError("--texts-file: \(path) must hold \(expected)") }
        return strings
    }
}

struct Detokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Turn token ids back into text with the model's tokenizer.")

    @Option(help: "A model folder holding tokenizer.json, or a .gguf file.")
    var model: String
    @Option(help: "Token ids, comma separated.")
    var ids: String
    @Flag(name: .customLong("skip-special"), help: "Leave out special tokens.")
    var skipSpecial = false

    func run() throws {
        let tokenizer = try loadTokenizer(model: model)
        let parsed = try parseTokenIds(ids, option: "--ids")
        print(try tokenizer.decode(parsed, skipSpecialTokens: skipSpecial), terminator: "")
    }
}
