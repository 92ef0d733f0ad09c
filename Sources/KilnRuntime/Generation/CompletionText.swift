// The runtime works on ids; stop strings need text. The module that has the tokenizer hands
// the runtime a factory of these (Kiln's DetokenizedCompletion), one per completion.

/// A completion's text, built as its tokens arrive and watched for stop strings.
public protocol CompletionText {
    /// Adds the next generated token. Returns the text that may be shown now — text that
    /// could begin a stop string is held back — and whether a stop string is complete (then
    /// the text returned ends before it). Stop strings end nothing while `canStop` is false
    /// (min-tokens), but a match that ends later counts from wherever it began.
    mutating func append(_ token: Int32, canStop: Bool) -> (text: String, stopped: Bool)
    /// The text still held back, once the completion ended without a stop string.
    mutating func finish() -> String
}

/// Makes the text of one completion that stops at any of the given strings, with or without
/// the special tokens' text.
public typealias CompletionTextFactory = @Sendable (_ stop: [String], _ skipSpecialTokens: Bool) -> any CompletionText
