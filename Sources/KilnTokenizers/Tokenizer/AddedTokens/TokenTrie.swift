// A trie over the added tokens' scalars, finding matches leftmost-longest and without
// overlap: what the aho-corasick automaton of the Rust AddedVocabulary reports.

struct TokenTrie: Sendable {
    private var children: [[UInt32: Int32]] = [[:]]
    /// The pattern index ending at each node, or -1.
    private var terminal: [Int32] = [-1]

    var isEmpty: Bool { children[0].isEmpty }

    /// Adds a pattern; an identical earlier pattern keeps precedence.
    mutating func insert(_ pattern: [Unicode.Scalar], index: Int) {
        guard !pattern.isEmpty else { return }
        var node = 0
        for scalar in pattern {
            if let child = children[node][scalar.value] {
                node = Int(child)
            } else {
                children.append([:])
                terminal.append(-1)
                children[node][scalar.value] = Int32(children.count - 1)
                node = children.count - 1
            }
        }
        if terminal[node] < 0 { terminal[node] = Int32(index) }
    }

    /// The matches in `text` as (range, pattern index).
    func matches(in text: [Unicode.Scalar]) -> [(range: Range<Int>, pattern: Int)] {
        var found: [(range: Range<Int>, pattern: Int)] = []
        if isEmpty { return found }
        let root = children[0]
        var start = 0
        while start < text.count {
            guard var node = root[text[start].value].map(Int.init) else {
                start += 1
                continue
            }
            var longest: (end: Int, pattern: Int32)? = terminal[node] >= 0 ? (start + 1, terminal[node]) : nil
            var i = start + 1
            while i < text.count, let child = children[node][text[i].value] {
                node = Int(child)
                i += 1
                if terminal[node] >= 0 { longest = (i, terminal[node]) }
            }
            if let longest {
                found.append((start..<longest.end, Int(longest.pattern)))
                start = longest.end
            } else {
                start += 1
            }
        }
        return found
    }
}
