// Options and parsing shared by several commands.

import ArgumentParser
import FoundationEssentials
import KilnRuntime
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct ModelOptions: ParsableArguments {
    @Option(name: .customLong("model"), help: "A Hugging Face model folder (config.json, *.safetensors) or a .gguf file.")
    var modelPath: String?
    @Option(help: "An engine folder written by `kiln build`.")
    var engine: String?

    func validate() throws {
        guard (modelPath == nil) != (engine == nil) else { throw ValidationError("give exactly one of --model and --engine") }
    }

    /// The model or engine to load.
    var model: String { modelPath ?? engine! }
}

/// How the next token is chosen (shared by `generate` and `chat`).
struct SamplingOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Sample from the k most likely tokens (0: all).")
    var topK = 0
    @Option(name: .customLong("top-p"), help: "Sample from the smallest set of tokens whose probability reaches p.")
    var topP: Float = 1
    @Option(help: "Random seed; the same seed gives the same tokens.")
    var seed: UInt64?

    func params(maxTokens: Int, ignoreEOS: Bool = false) throws -> SamplingParams {
        let params = SamplingParams(temperature: temperature, topK: topK, topP: topP, seed: seed, maxTokens: maxTokens, ignoreEOS: ignoreEOS)
        try params.validate()
        return params
    }
}

/// Token ids from a comma-separated list, or a validation error naming `option` and the bad entry.
func parseTokenIds(_ text: String, option: String) throws -> [Int32] {
    try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
        let entry = String(part.filter { !$0.isWhitespace })
        guard let id = Int32(entry), id >= 0 else {
            throw ValidationError("\(option): '\(entry)' is not a token id (expected non-negative integers separated by commas)")
        }
        return id
    }
}

/// Prints one line of JSON on stdout: an object with `fields` in the order given.
func printJSONObject(_ fields: [(String, any Encodable)]) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    let members = try fields.map { key, value in
        "\"\(key)\":" + String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    print("{" + members.joined(separator: ",") + "}")
}

/// Writes `text` to stdout at once (streamed output must not wait for a newline).
func writeStandardOutput(_ text: String) {
    print(text, terminator: "")
    fflush(nil)
}

/// Writes a line to stderr (progress and timings, kept out of machine-read stdout).
func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

extension Double {
    func rounded(toPlaces places: Int) -> Double {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return (self * scale).rounded() / scale
    }
}
