// The first generation loop: one request at a time, prefill then decode, through the paged
// KV cache. The in-flight batching executor replaces the loop, not the pieces it uses.

import KilnGraph
import KilnTensor

/// Why generation ended.
public enum FinishReason: String, Sendable, Codable {
    /// `maxTokens` were generated.
    case length
    /// An end-of-sequence token was generated (it is the last output id).
    case stop
    /// The caller asked to stop (`onToken` returned false).
    case cancelled
}

/// The tokens of one finished request and how long they took.
public struct GenerationResult: Sendable {
    public var promptIds: [Int32]
    public var outputIds: [Int32]
    public var finishReason: FinishReason
    /// From submitting the prompt to the first generated token.
    public var prefillTime: Duration
    /// Generating every token after the first.
    public var decodeTime: Duration
    /// Prompt tokens whose KV-cache blocks an earlier request left (not computed again).
    public var cachedPromptTokens: Int = 0

    /// Tokens per second after the first token (0 when only one was generated).
    public var decodeTokensPerSecond: Double {
        let seconds = decodeTime.inSeconds
        return outputIds.count > 1 && seconds > 0 ? Double(outputIds.count - 1) / seconds : 0
    }
}

public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case contextTooLong(promptTokens: Int, maxTokens: Int, capacity: Int)
    case sampling(SamplingError)

    public var description: String {
        switch self {
        case .emptyPrompt:
            "the prompt has no tokens"
        case .contextTooLong(let prompt, let maxTokens, let capacity):
            "prompt (\(prompt) tokens) + max tokens (\(maxTokens)) exceed the context of \(capacity) tokens; shorten the prompt or lower --max-tokens"
        case .sampling(let error):
            error.description
        }
    }
}

/// Runs requests one after another on an executable; a request whose prompt starts like an
/// earlier one's reuses that prefix's KV-cache blocks.
public final class Generator {
    public let executable: any Executable
    public let eosTokenIds: Set<Int32>
    private var cache: KVCacheManager
    private var nextSequence: SequenceID = 0

    public init(executable: any Executable, eosTokenIds: [Int]) {
        self.executable = executable
        self.eosTokenIds = Set(eosTokenIds.map(Int32.init))
        cache = KVCacheManager(numBlocks: executable.kvCacheLayout.numBlocks, tokensPerBlock: executable.kvCacheLayout.tokensPerBlock)
    }

    /// The KV cache's blocks and prefix hits so far.
    public var cacheStatistics: KVCacheManager.Statistics { cache.statistics }

    /// The tokens that follow `prompt`; `onToken` sees each one as soon as it is chosen and
    /// returns whether to go on.
    public func generate(prompt: [Int32], _ params: SamplingParams, onToken: (Int32) -> Bool = { _ in true }) throws -> GenerationResult {
        do { try params.validate() } catch { throw GenerationError.sampling(error) }
        guard !prompt.isEmpty else { throw GenerationError.emptyPrompt }
        let layout = executable.kvCacheLayout
        let total = prompt.count + params.maxTokens
        guard total <= layout.capacityTokens else {
            throw GenerationError.contextTooLong(promptTokens: prompt.count, maxTokens: params.maxTokens, capacity: layout.capacityTokens)
        }
        let sequence = nextSequence
        nextSequence += 1
        let cachedPromptTokens = cache.start(sequence, prompt: prompt)
        defer { cache.free(sequence) }
        guard cache.reserve(sequence, tokens: total) else {
            throw GenerationError.contextTooLong(promptTokens: prompt.count, maxTokens: params.maxTokens,
                                                 capacity: cache.statistics.freeBlocks * layout.tokensPerBlock)
        }
        let blocks = cache.blockTable(sequence)

        var sampler = Sampler(params)
        let clock = ContinuousClock()
        let start = clock.now
        var output: [Int32] = []
        var pending = Array(prompt[cachedPromptTokens...])
        var firstTokenAt = start
        var finish = FinishReason.length
        func step(_ tokens: ArraySlice<Int32>) -> StepInputs {
            let cached = prompt.count + output.count - pending.count
            return StepInputs(sequences: [(Array(tokens), SequenceStep(cachedTokens: cached, newTokens: tokens.count, blockTable: blocks))],
                              tokensPerBlock: layout.tokensPerBlock)
        }
        // a prompt longer than a step may hold is prefilled in chunks; only the last one's logits count
        let chunk = executable.limits.maxNumTokens
        while pending.count > chunk {
            _ = try executable.forward(step(pending.prefix(chunk)))
            cache.commit(sequence, tokens: Array(pending.prefix(chunk)))
            pending.removeFirst(chunk)
        }
        while output.count < params.maxTokens {
            // the backend picks it (on a GPU, only the id crosses to the host)
            let token = try executable.forward(step(pending[...]), choices: [sampler.nextChoice()])[0]
            cache.commit(sequence, tokens: pending)
            if output.isEmpty { firstTokenAt = clock.now }
            output.append(token)
            guard onToken(token) else {
                finish = .cancelled
                break
            }
            if !params.ignoreEOS && eosTokenIds.contains(token) {
                finish = .stop
                break
            }
            pending = [token]
        }
        return GenerationResult(promptIds: prompt, outputIds: output, finishReason: finish,
                                prefillTime: firstTokenAt - start, decodeTime: clock.now - firstTokenAt, cachedPromptTokens: cachedPromptTokens)
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
