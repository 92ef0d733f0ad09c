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

/// The draw of the next token: temperature, top-k, top-p (shared by `generate`, `chat` and `bench`).
struct DrawOptions: ParsableArguments {
    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0
    @Option(name: .customLong("top-k"), help: "Sample from the k most likely tokens (0: all).")
    var topK = 0
    @Option(name: .customLong("top-p"), help: "Sample from the smallest set of tokens whose probability reaches p.")
    var topP: Float = 1
}

/// How the next token is chosen and when the answer stops (shared by `generate` and `chat`).
struct SamplingOptions: ParsableArguments {
    @OptionGroup var draw: DrawOptions
    @Option(name: .customLong("min-p"), help: "Sample only from tokens at least this fraction as likely as the most likely one (0: all).")
    var minP: Float = 0
    @Option(help: "Random seed; the same seed gives the same tokens.")
    var seed: UInt64?
    @Option(name: .customLong("repetition-penalty"), help: "Divide positive (multiply negative) logits of prompt and output tokens by this (1: off).")
    var repetitionPenalty: Float = 1
    @Option(name: .customLong("presence-penalty"), help: "Subtract this from the logit of every token generated so far (-2…2).")
    var presencePenalty: Float = 0
    @Option(name: .customLong("frequency-penalty"), help: "Subtract this times its count from the logit of every token generated so far (-2…2).")
    var frequencyPenalty: Float = 0
    @Option(name: .customLong("logit-bias"), help: "Add BIAS to token ID's logit (ID=BIAS, repeatable).")
    var logitBias: [String] = []
    @Option(name: .customLong("min-tokens"), help: "Generate at least this many tokens before an end-of-sequence or stop token.")
    var minTokens = 0
    @Option(help: "Stop when the text contains this string, which is left out (repeatable).")
    var stop: [String] = []
    @Option(name: .customLong("stop-token-ids"), help: "Token ids that end the answer like end-of-sequence, comma separated.")
    var stopTokenIds: String?

    func params(maxTokens: Int, ignoreEOS: Bool = false, n: Int = 1, logprobs: Int? = nil, beams: BeamOptions? = nil) throws -> SamplingParams {
        let params = SamplingParams(temperature: draw.temperature, topK: draw.topK, topP: draw.topP, minP: minP, seed: seed, maxTokens: maxTokens,
                                    ignoreEOS: ignoreEOS, repetitionPenalty: repetitionPenalty, presencePenalty: presencePenalty,
                                    frequencyPenalty: frequencyPenalty, logitBias: try parseLogitBias(logitBias), minTokens: minTokens,
                                    stopTokenIds: try stopTokenIds.map { try parseTokenIds($0, option: "--stop-token-ids") } ?? [],
                                    stop: stop, n: n, logprobs: logprobs, beamWidth: beams?.beamWidth ?? 1,
                                    lengthPenalty: beams?.lengthPenalty ?? 1, earlyStopping: beams?.earlyStopping ?? .heuristic)
        try params.validate()
        return params
    }
}

/// Beam search instead of sampling (`generate` only: a chat answer streams as it is sampled).
struct BeamOptions: ParsableArguments {
    @Option(name: .customLong("beam-width"), help: "Beams of a beam search (1: off); --n of the best are returned, each with its score.")
    var beamWidth = 1
    @Option(name: .customLong("length-penalty"), help: "Beam search: a beam scores its log-probability / length^X (above 0 favours longer beams).")
    var lengthPenalty: Float = 1
    @Option(name: .customLong("early-stopping"),
            help: "Beam search: true (stop once beam-width beams finished), false (once no running beam can do better, judged at its length), never (judged at --max-tokens).")
    var earlyStopping: EarlyStopping = .heuristic
}

extension EarlyStopping: ExpressibleByArgument {}

/// `--logit-bias` entries (ID=BIAS) as a map, or a validation error naming the bad entry.
func parseLogitBias(_ entries: [String]) throws -> [Int32: Float] {
    var biases: [Int32: Float] = [:]
    for entry in entries {
        let parts = entry.split(separator: "=", maxSplits: 1).map { String($0.filter { !$0.isWhitespace }) }
        guard parts.count == 2, let id = Int32(parts[0]), id >= 0, let bias = Float(parts[1]) else {
            throw ValidationError("--logit-bias: '\(entry)' is not ID=BIAS (e.g. 42=-5.5)")
        }
        biases[id] = bias
    }
    return biases
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

/// A JSON object whose members keep the order given (nested in `printJSONObject`'s fields).
struct JSONObjectFields: Encodable {
    let fields: [(String, any Encodable)]

    init(_ fields: [(String, any Encodable)]) { self.fields = fields }

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in fields { try container.encode(value, forKey: Key(stringValue: key)) }
    }
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
