// Hugging Face's beam search (transformers 5.x `_beam_search`, do_sample=False) as pure
// bookkeeping: log-probability rows in, surviving beams and finished hypotheses out. The
// decoder around it owns the model and the KV cache; this type never sees either.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// When a beam search stops before `maxTokens` (Hugging Face's `early_stopping`).
public enum EarlyStopping: String, Hashable, Sendable, CaseIterable {
    /// `true`: as soon as `beamWidth` hypotheses have finished.
    case enabled = "true"
    /// `false`: once the best running beam, scored at its current length, cannot beat the
    /// worst of `beamWidth` finished hypotheses (a heuristic: with a positive length penalty
    /// a longer beam could still have won).
    case heuristic = "false"
    /// `never`: like the heuristic, but scoring the best running beam at `maxTokens` when the
    /// length penalty is positive, so no better hypothesis can be missed.
    case never
}

/// The running beams and finished hypotheses of one request's beam search.
///
/// Each `advance` is one of Hugging Face's loop iterations: every running beam's processed
/// log-probabilities plus its running score give (beam, token) candidates; the best
/// `(1 + end ids) · width` of them (at least `2 · width`) are kept, ordered as `torch.topk`
/// orders them (higher score first, lower flat index beam · vocab + token on ties). Candidates
/// among the first `width` that end — an end id, or the `maxTokens`-th token — become
/// hypotheses scored sum / length^lengthPenalty, length counting the generated tokens with
/// the end id; the first `width` candidates that do not end run on.
struct BeamSearch {
    /// A beam still generating.
    struct Beam {
        var output: [Int32]
        /// Sum of the log-probabilities of its tokens.
        var score: Float
    }

    /// A finished beam.
    struct Hypothesis {
        var output: [Int32]
        /// The length-normalized score.
        var score: Float
        var finishReason: FinishReason
    }

    let width: Int
    let lengthPenalty: Float
    let earlyStopping: EarlyStopping
    let maxTokens: Int
    let endTokenIds: Set<Int32>
    private(set) var running: [Beam]
    /// At most `width`, best first (on equal scores the one that finished first).
    private(set) var finished: [Hypothesis] = []
    private(set) var isDone = false
    /// Hugging Face's `is_early_stop_heuristic_unsatisfied`: once false it stays false.
    private var canImprove = true

    /// Hugging Face's placeholder score of running beams that must not be chosen, and of
    /// finished slots still empty.
    static let excluded: Float = -1e9

    /// A search whose `width` beams all start as the prompt; all but the first carry the
    /// excluded score, so the first step's candidates come from one beam, as in Hugging Face.
    init(width: Int, lengthPenalty: Float, earlyStopping: EarlyStopping, maxTokens: Int, endTokenIds: Set<Int32>) {
        self.width = width
        self.lengthPenalty = lengthPenalty
        self.earlyStopping = earlyStopping
        self.maxTokens = maxTokens
        self.endTokenIds = endTokenIds
        running = (0..<width).map { Beam(output: [], score: $0 == 0 ? 0 : Self.excluded) }
    }

    /// How many candidates each step keeps: enough that `width` of them do not end even if
    /// every end id is among each beam's best.
    var candidatesKept: Int { max(2, 1 + endTokenIds.count) * width }

    /// One step: `logprobs[b]` is running beam `b`'s processed log-probability row. Returns,
    /// for each new running beam, the index of the beam it continues (the tokens are in
    /// `running`); empty once the search is done.
    mutating func advance(logprobs: [[Float]]) -> [Int] {
        precondition(!isDone && logprobs.count == running.count, "one log-probability row per running beam")
        let candidates = topCandidates(logprobs)
        let length = running[0].output.count + 1
        let lengthScale = Float(Self.power(length, lengthPenalty))
        func ends(_ candidate: Candidate) -> Bool { endTokenIds.contains(candidate.token) || length >= maxTokens }

        var newcomers: [Hypothesis] = []
        for candidate in candidates.prefix(width) where ends(candidate) {
            newcomers.append(Hypothesis(output: running[candidate.beam].output + [candidate.token], score: candidate.score / lengthScale,
                                        finishReason: endTokenIds.contains(candidate.token) ? .stop : .length))
        }
        // earlier hypotheses first, so a stable sort keeps them ahead on equal scores
        finished = Array((finished + newcomers).enumerated().sorted { a, b in
            a.element.score != b.element.score ? a.element.score > b.element.score : a.offset < b.offset
        }.map(\.element).prefix(width))

        let continuing = Array(candidates.filter { !ends($0) }.prefix(width))
        let allEnd = continuing.isEmpty
        let parents = continuing.map(\.beam)
        running = continuing.map { Beam(output: running[$0.beam].output + [$0.token], score: $0.score) }
        isDone = allEnd || !checkImprovement(length: length) || (finished.count == width && earlyStopping == .enabled)
        return isDone ? [] : parents
    }

    /// Hugging Face's early-stop heuristic after a step: can the best running beam still beat
    /// the worst finished hypothesis? Always yes while fewer than `width` have finished.
    private mutating func checkImprovement(length: Int) -> Bool {
        let hypotheticalLength = earlyStopping == .never && lengthPenalty > 0 ? maxTokens : length
        let bestPossible = running[0].score / Float(Self.power(hypotheticalLength, lengthPenalty))
        let worstFinished = finished.count == width ? finished[width - 1].score : Self.excluded
        canImprove = canImprove && bestPossible > worstFinished
        return canImprove
    }

    /// A (beam, token) continuation and its running score.
    struct Candidate {
        var beam: Int
        var token: Int32
        var score: Float
    }

    /// The `candidatesKept` best continuations over all beams, in `torch.topk`'s order. Only a
    /// beam's own best `candidatesKept` tokens can be among them, so each row is scanned once
    /// keeping a short sorted list.
    func topCandidates(_ logprobs: [[Float]]) -> [Candidate] {
        let keep = candidatesKept
        // (score, flat index) descending by score, ascending index on ties
        func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
            a.score != b.score ? a.score > b.score : (a.beam, a.token) < (b.beam, b.token)
        }
        var best: [Candidate] = []
        best.reserveCapacity(keep + 1)
        for (beam, row) in logprobs.enumerated() {
            let base = running[beam].score
            for (token, logprob) in row.enumerated() {
                let candidate = Candidate(beam: beam, token: Int32(token), score: logprob + base)
                guard best.count < keep || precedes(candidate, best[keep - 1]) else { continue }
                let position = best.firstIndex { precedes(candidate, $0) } ?? best.count
                best.insert(candidate, at: position)
                if best.count > keep { best.removeLast() }
            }
        }
        return best
    }

    /// `base ** exponent` in double precision, as Python computes the length normalization
    /// (the f32 scores are then divided by it rounded to f32, as torch divides by a scalar).
    static func power(_ base: Int, _ exponent: Float) -> Double { pow(Double(base), Double(exponent)) }
}
