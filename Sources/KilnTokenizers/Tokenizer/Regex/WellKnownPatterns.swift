// Hand-written matchers for the GPT-2 and Llama-3/Qwen2 regexes: where onig's leftmost-first
// backtracking match at `i` ends, trying the alternatives in order, over scalars as onig does.

@inline(__always) private func isOther(_ c: Unicode.Scalar) -> Bool { !c.isWhiteSpace && !c.isLetter && !c.isNumber }
@inline(__always) private func isNewline(_ c: Unicode.Scalar) -> Bool { c == "\n" || c == "\r" }

@inline(__always) private func run(_ s: [Unicode.Scalar], from i: Int, while test: (Unicode.Scalar) -> Bool) -> Int {
    var j = i
    while j < s.count && test(s[j]) { j += 1 }
    return j
}

/// `'s|'t|'re|'ve|'m|'ll|'d`, case-sensitive or (`(?i:...)`) case-insensitive by Unicode
/// case folding, where `ſ` (U+017F) folds to `s`. Returns the end, or nil.
@inline(__always) private func contractionEnd(_ s: [Unicode.Scalar], _ i: Int, ignoreCase: Bool) -> Int? {
    guard s[i] == "'", i + 1 < s.count else { return nil }
    func fold(_ c: Unicode.Scalar) -> UInt32 {
        guard ignoreCase else { return c.value }
        if c.value >= 65 && c.value <= 90 { return c.value + 32 }
        return c == "\u{17F}" ? 115 : c.value
    }
    switch fold(s[i + 1]) {
    case 115, 116, 109, 100: return i + 2  // s t m d
    case 114, 118:  // r v → re ve
        return i + 2 < s.count && fold(s[i + 2]) == 101 ? i + 3 : nil
    case 108:  // l → ll
        return i + 2 < s.count && fold(s[i + 2]) == 108 ? i + 3 : nil
    default: return nil
    }
}

/// `\s+(?!\S)|\s+` from a whitespace scalar at `i`: the run, less its last scalar when a
/// non-space follows and the run is longer than one.
@inline(__always) private func whitespaceEnd(_ s: [Unicode.Scalar], _ i: Int) -> Int {
    let end = run(s, from: i) { $0.isWhiteSpace }
    if end == s.count || end - i == 1 { return end }
    return end - 1
}

/// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
func gpt2MatchEnd(_ s: [Unicode.Scalar], _ i: Int) -> Int {
    if let end = contractionEnd(s, i, ignoreCase: false) { return end }
    // ` ?` takes the space only when the class after it matches; without it the class would
    // have to match the space itself, which none of the three does.
    let j = s[i] == " " && i + 1 < s.count && !s[i + 1].isWhiteSpace ? i + 1 : i
    let c = s[j]
    if c.isLetter { return run(s, from: j + 1) { $0.isLetter } }
    if c.isNumber { return run(s, from: j + 1) { $0.isNumber } }
    if !c.isWhiteSpace { return run(s, from: j + 1, while: isOther) }
    return whitespaceEnd(s, i)
}

/// Llama-3 (`maxDigits` 3) and Qwen2 (`maxDigits` 1):
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
func llama3MatchEnd(_ s: [Unicode.Scalar], _ i: Int, maxDigits: Int) -> Int {
    if let end = contractionEnd(s, i, ignoreCase: true) { return end }
    let c = s[i]
    if c.isLetter { return run(s, from: i + 1) { $0.isLetter } }
    if !isNewline(c) && !c.isNumber && i + 1 < s.count && s[i + 1].isLetter { return run(s, from: i + 2) { $0.isLetter } }
    if c.isNumber {
        var j = i + 1
        while j < s.count && j - i < maxDigits && s[j].isNumber { j += 1 }
        return j
    }
    let j = c == " " && i + 1 < s.count && isOther(s[i + 1]) ? i + 1 : i
    if isOther(s[j]) {
        let end = run(s, from: j + 1, while: isOther)
        return run(s, from: end, while: isNewline)
    }
    // c is whitespace. `\s*[\r\n]+`: the run up to and including its last newline.
    let end = run(s, from: i) { $0.isWhiteSpace }
    var k = end - 1
    while k >= i && !isNewline(s[k]) { k -= 1 }
    if k >= i { return k + 1 }
    return whitespaceEnd(s, i)
}
