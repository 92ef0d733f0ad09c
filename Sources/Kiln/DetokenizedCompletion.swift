// The runtime's CompletionText from the model's tokenizer: ids become text through the
// streaming detokenizer, and the text goes through the stop-string matcher.

import KilnRuntime
import KilnTokenizers

/// A completion's text, special tokens skipped unless asked for, cut before the first stop string.
struct DetokenizedCompletion: CompletionText {
    private var detokenizer: StreamingDetokenizer
    private var matcher: StopStringMatcher

    init(tokenizer: Tokenizer, stop: [String], skipSpecialTokens: Bool = true) {
        detokenizer = tokenizer.makeStreamingDetokenizer(skipSpecialTokens: skipSpecialTokens)
        matcher = StopStringMatcher(stops: stop)
    }

    mutating func append(_ token: Int32, canStop: Bool) -> (text: String, stopped: Bool) {
        // an id the tokenizer does not know (a vocabulary padded past it) has no text
        matcher.append((try? detokenizer.append(token)) ?? "", canStop: canStop)
    }

    mutating func finish() -> String {
        let rest = matcher.append(detokenizer.finish(), canStop: false).text
        return rest + matcher.finish()
    }
}
