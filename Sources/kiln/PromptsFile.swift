// `kiln generate --prompts-file`: many requests, one JSON object a line, each with its own
// prompt, sampling (stop strings, n and beam width included) and arrival time. Every line is checked before the model loads, and a bad
// one is named by file, line and field.

import ArgumentParser
import FoundationEssentials
import KilnRuntime
import KilnTokenizers

/// One line of a prompts file.
struct PromptsFileRequest {
    enum Prompt {
        case ids([Int32])
        case text(String, chat: Bool)
    }

    /// 1-based, as editors count.
    let line: Int
    let prompt: Prompt
    let params: SamplingParams
    /// When the request is submitted, counted from the first submission.
    let arrival: Duration
}

/// The requests of the JSON-lines file at `path` (blank lines skipped); fields a line leaves
/// out take `defaults` (the command's own options).
func readPromptsFile(_ path: String, defaults: SamplingParams) throws -> [PromptsFileRequest] {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--prompts-file: cannot read \(path)") }
    var requests: [PromptsFileRequest] = []
    for (index, text) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        guard text.contains(where: { !$0.isWhitespace }) else { continue }
        let line = PromptsFileLine(file: path, number: index + 1)
        requests.append(try line.request(String(text), defaults: defaults))
    }
    guard !requests.isEmpty else { throw ValidationError("\(path): no requests (expected one JSON object per line)") }
    return requests
}

/// Reads one line's fields, each error naming the file, the line and the field.
private struct PromptsFileLine {
    let file: String
    let number: Int

    static let knownFields: Set = ["prompt", "prompt_ids", "chat", "max_tokens", "temperature", "top_k", "top_p", "seed", "ignore_eos",
                                   "stop", "n", "beam_width", "arrival_ms"]

    func request(_ text: String, defaults: SamplingParams) throws -> PromptsFileRequest {
        let object: JSONObject
        do {
            guard let parsed = try JSONValue.parse(text).object else { throw failure("expected a JSON object") }
            object = parsed
        } catch let error as JSONError {
            throw failure("not JSON (column \(error.column): \(error.reason))")
        }
        for key in object.keys {
            guard Self.knownFields.contains(key) else {
                throw failure("unknown field '\(key)' (expected \(Self.knownFields.sorted().joined(separator: ", ")))")
            }
        }
        var params = defaults
        params.maxTokens = try integer(object, "max_tokens") ?? params.maxTokens
        params.temperature = try number(object, "temperature").map(Float.init) ?? params.temperature
        params.topK = try integer(object, "top_k") ?? params.topK
        params.topP = try number(object, "top_p").map(Float.init) ?? params.topP
        if let seed = try integer(object, "seed") {
            guard seed >= 0 else { throw failure("field 'seed': expected a non-negative integer") }
            params.seed = UInt64(seed)
        }
        params.ignoreEOS = try flag(object, "ignore_eos") ?? params.ignoreEOS
        params.stop = try stop(object) ?? params.stop
        params.n = try integer(object, "n") ?? params.n
        params.beamWidth = try integer(object, "beam_width") ?? params.beamWidth
        do { try params.validate() } catch { throw failure("\(error)") }
        let arrival = try number(object, "arrival_ms") ?? 0
        guard arrival >= 0 else { throw failure("field 'arrival_ms': expected milliseconds ≥ 0") }
        return PromptsFileRequest(line: number, prompt: try prompt(object), params: params, arrival: .microseconds(Int64(arrival * 1000)))
    }

    private func prompt(_ object: JSONObject) throws -> PromptsFileRequest.Prompt {
        let chat = try flag(object, "chat") ?? false
        switch (object["prompt"], object["prompt_ids"]) {
        case (let text?, nil):
            guard let text = text.string else { throw failure("field 'prompt': expected a string") }
            return .text(text, chat: chat)
        case (nil, let ids?):
            if chat { throw failure("field 'chat': goes with 'prompt', not 'prompt_ids'") }
            guard let values = ids.array, !values.isEmpty else { throw failure("field 'prompt_ids': expected a non-empty array of token ids") }
            return .ids(try values.map { value in
                guard let id = value.int, id >= 0, id <= Int(Int32.max) else { throw failure("field 'prompt_ids': \(value.serialized()) is not a token id") }
                return Int32(id)
            })
        default:
            throw failure("give exactly one of the fields 'prompt' and 'prompt_ids'")
        }
    }

    /// `stop`: one string or an array of them, as OpenAI's API takes it.
    private func stop(_ object: JSONObject) throws -> [String]? {
        guard let value = object["stop"] else { return nil }
        if let string = value.string { return [string] }
        guard let values = value.array else { throw failure("field 'stop': expected a string or an array of strings") }
        return try values.map { value in
            guard let string = value.string else { throw failure("field 'stop': \(value.serialized()) is not a string") }
            return string
        }
    }

    private func integer(_ object: JSONObject, _ key: String) throws -> Int? {
        guard let value = object[key] else { return nil }
        guard let int = value.int else { throw failure("field '\(key)': expected an integer") }
        return int
    }

    private func number(_ object: JSONObject, _ key: String) throws -> Double? {
        guard let value = object[key] else { return nil }
        guard let double = value.double, double.isFinite else { throw failure("field '\(key)': expected a number") }
        return double
    }

    private func flag(_ object: JSONObject, _ key: String) throws -> Bool? {
        guard let value = object[key] else { return nil }
        guard let bool = value.bool else { throw failure("field '\(key)': expected true or false") }
        return bool
    }

    private func failure(_ reason: String) -> ValidationError { ValidationError("\(file) line \(number): \(reason)") }
}
