// One completion from its first pick to its finish. The generator and the in-flight batcher
// both step completions through this type, so a request decodes the same in either.

import KilnGraph
import KilnTensor

/// A completion as it decodes: picks its tokens (through its Sampler), keeps its output,
/// logprobs and text, and decides when it is done.
struct CompletionDecoder {
    /// Which of the request's completions this is.
    let index: Int
    private let params: SamplingParams
    private var sampler: Sampler
    private var text: (any CompletionText)?
    private var releasedText = ""
    private(set) var output: [Int32] = []
    private var logprobs: [TokenLogprobs] = []
    /// Set once the completion is done.
    private(set) var finishReason: FinishReason?

    /// The decoders of the request's `params.n` completions of `prompt`, each drawing from its
    /// own stream derived from the seed (one fresh seed for the request when it has none).
    static func completions(of prompt: [Int32], _ params: SamplingParams, eosTokenIds: Set<Int32>,
                            text: CompletionTextFactory?) -> [CompletionDecoder] {
        let seed = params.seed ?? UInt64.random(in: .min ... .max)
        return (0..<params.n).map { index in
            CompletionDecoder(index: index, params: params,
                              sampler: Sampler(params, prompt: prompt, eosTokenIds: eosTokenIds, seed: RandomSource.completionSeed(seed, index: index)),
                              text: text.map { $0(params.stop, params.skipSpecialTokens) })
        }
    }

    private init(index: Int, params: SamplingParams, sampler: Sampler, text: (any CompletionText)?) {
        self.index = index
        self.params = params
        self.sampler = sampler
        self.text = text
    }

    /// Whether the next pick needs the logits row on the host.
    var picksOnHost: Bool { sampler.picksOnHost }

    /// How the backend picks the next token (only when `picksOnHost` is false).
    mutating func nextChoice() -> TokenChoice { sampler.nextChoice() }

    /// The next token picked on the host from a raw logits row.
    mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> SampledToken { sampler.sample(logits) }

    /// Appends the picked token and says whether the completion is done; returns what a
    /// stream shows for it.
    mutating func accept(_ picked: SampledToken) -> GeneratedToken {
        let token = picked.token
        output.append(token)
        sampler.record(token)
        if let entry = picked.logprobs { logprobs.append(entry) }
        // stop strings (like end ids, which cannot be picked before) wait for min-tokens
        let canStop = output.count > params.minTokens
        let piece = text?.append(token, canStop: canStop) ?? (text: "", stopped: false)
        var shown = piece.text
        if piece.stopped || sampler.endTokenIds.contains(token) {
            finishReason = .stop
        } else if output.count >= params.maxTokens {
            finishReason = .length
        }
        if finishReason != nil && !piece.stopped { shown += text?.finish() ?? "" }
        releasedText += shown
        return GeneratedToken(id: token, completion: index, text: shown, logprobs: picked.logprobs)
    }

    /// Ends the completion at the caller's request.
    mutating func cancel() {
        if finishReason == nil { releasedText += text?.finish() ?? "" }
        finishReason = .cancelled
    }

    /// The finished completion.
    var result: CompletionOutput {
        CompletionOutput(outputIds: output, finishReason: finishReason ?? .cancelled, text: text == nil ? nil : releasedText,
                         logprobs: params.logprobs == nil ? nil : logprobs)
    }
}

/// Checks a request before it runs: its parameters (token ids against the vocabulary), a
/// prompt, room for it in the context, and a way to make text when it has stop strings.
func validateRequest(prompt: [Int32], _ params: SamplingParams, on executable: any Executable, canMakeText: Bool) throws(GenerationError) {
    do { try params.validate(vocabularySize: executable.vocabularySize) } catch { throw .sampling(error) }
    guard !prompt.isEmpty else { throw .emptyPrompt }
    let capacity = executable.kvCacheLayout.capacityTokens
    guard prompt.count + params.maxTokens <= capacity else {
        throw .contextTooLong(promptTokens: prompt.count, maxTokens: params.maxTokens, capacity: capacity)
    }
    guard params.stop.isEmpty || canMakeText else { throw .stopStringsNeedTokenizer }
}

extension Executable {
    /// Runs `step` and picks the token of each output row through `decoders` (by row; `nil`
    /// for a row that picks nothing, such as a prompt chunk short of the prompt's end). When
    /// none needs the logits the backend picks (on a GPU only ids cross to the host);
    /// otherwise every row comes back and is picked on the host, plain rows by the same
    /// TokenChoice, so a request's tokens do not depend on its neighbours.
    func forward(_ step: StepInputs, picking decoders: inout [CompletionDecoder?]) throws -> [SampledToken?] {
        guard decoders.contains(where: { $0?.picksOnHost == true }) else {
            let choices = decoders.indices.map { decoders[$0]?.nextChoice() ?? .greedy }
            let ids = try forward(step, choices: choices)
            return decoders.indices.map { decoders[$0] == nil ? nil : SampledToken(token: ids[$0]) }
        }
        let logits = try forward(step)
        let width = logits.shape.last ?? 1
        return logits.withUnsafeBytes { bytes in
            let values = bytes.assumingMemoryBound(to: Float.self)
            return decoders.indices.map { row in
                decoders[row]?.sample(UnsafeBufferPointer(rebasing: values[(row * width)..<((row + 1) * width)]))
            }
        }
    }
}
