// Stop strings over text that arrives in pieces (a streaming detokenizer's output): a match
// may span pieces, so the end of the text that could still begin a stop string is held back
// until the next piece settles it. Matching is by Unicode scalars, as Python's str.find is.

/// Finds the first stop string in streamed text and releases only text that precedes it.
public struct StopStringMatcher: Sendable {
    public let stops: [String]
    private let patterns: [[Unicode.Scalar]]
    /// Text received but not released: a possible start of a stop string.
    private var held: [Unicode.Scalar] = []

    public init(stops: [String]) {
        self.stops = stops
        patterns = stops.map { Array($0.unicodeScalars) }.filter { !$0.isEmpty }
    }

    /// Adds the next piece of text. Returns the text that can be released and whether a stop
    /// string is complete; then the text released ends right before the match (the match and
    /// what follows it are dropped). While `canStop` is false, matches end nothing.
    public mutating func append(_ piece: String, canStop: Bool = true) -> (text: String, stopped: Bool) {
        held += piece.unicodeScalars
        if canStop, let start = firstMatch() {
            let text = Self.string(held[..<start])
            held = []
            return (text, true)
        }
        let keep = heldBackLength()
        let text = Self.string(held[..<(held.count - keep)])
        held.removeFirst(held.count - keep)
        return (text, false)
    }

    /// The text still held back, released once no more text will come.
    public mutating func finish() -> String {
        defer { held = [] }
        return Self.string(held[...])
    }

    /// Where the earliest stop string in the held text begins.
    private func firstMatch() -> Int? {
        var first: Int?
        for pattern in patterns where pattern.count <= held.count {
            for start in 0...(held.count - pattern.count) where start < (first ?? .max) {
                if held[start..<(start + pattern.count)].elementsEqual(pattern) {
                    first = start
                    break
                }
            }
        }
        return first
    }

    /// The length of the longest end of the held text that a stop string begins with (and is
    /// not all of it).
    private func heldBackLength() -> Int {
        var longest = 0
        for pattern in patterns {
            for length in stride(from: min(pattern.count - 1, held.count), to: longest, by: -1)
            where held[(held.count - length)...].elementsEqual(pattern[..<length]) {
                longest = length
                break
            }
        }
        return longest
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars)
        return String(text)
    }
}
