// The byte-pair-encoding model, as the `tokenizers` library applies it: split a word into
// characters (with unknown/byte-fallback handling), then merge pairs by rank.

struct BPE: TokenizerModel {
    let vocabulary: [ExactString: Int32]
    private let tokens: [String?]
    /// Merges keyed by `leftId << 32 | rightId`, valued `rank << 32 | mergedId`.
    private let merges: [UInt64: UInt64]
    /// Ids of single-scalar tokens, for the common case without prefix or suffix.
    private let scalarIds: [UInt32: Int32]
    /// `<0xXX>` token ids, for byte fallback.
    private let byteIds: [Int32?]
    private let unkId: Int32?
    private let fuseUnk: Bool
    private let byteFallback: Bool
    private let ignoreMerges: Bool
    private let continuingSubwordPrefix: String?
    private let endOfWordSuffix: String?

    init(_ field: JSONField) throws(TokenizerError) {
        if let dropout = try field.optional("dropout"), try dropout.double() != 0 {
            throw dropout.unsupported("BPE dropout (it makes tokenization random; set it to null)")
        }
        let (vocabulary, tokens) = try parseVocabulary(field.required("vocab"))
        (self.vocabulary, self.tokens) = (vocabulary, tokens)
        continuingSubwordPrefix = try field.optionalString("continuing_subword_prefix")
        endOfWordSuffix = try field.optionalString("end_of_word_suffix")
        fuseUnk = try field.optionalBool("fuse_unk") ?? false
        byteFallback = try field.optionalBool("byte_fallback") ?? false
        ignoreMerges = try field.optionalBool("ignore_merges") ?? false
        if let unk = try field.optional("unk_token") {
            guard let id = vocabulary[ExactString(try unk.string())] else { throw unk.invalid("the unknown token \"\(try unk.string())\" is not in model.vocab") }
            unkId = id
        } else {
            unkId = nil
        }

        var scalarIds: [UInt32: Int32] = [:]
        for (token, id) in vocabulary {
            var scalars = token.value.unicodeScalars.makeIterator()
            if let first = scalars.next(), scalars.next() == nil { scalarIds[first.value] = id }
        }
        self.scalarIds = scalarIds
        byteIds = (0..<256).map { byte in vocabulary[ExactString("<0x" + hexByte(UInt8(byte)) + ">")] }
        merges = try BPE.parseMerges(field.required("merges"), vocabulary: vocabulary, prefix: continuingSubwordPrefix ?? "")
    }

    /// Both stored forms: `"a b"` strings and `["a", "b"]` pairs. A later duplicate wins, as in
    /// the Rust library's map.
    private static func parseMerges(_ field: JSONField, vocabulary: [ExactString: Int32], prefix: String) throws(TokenizerError) -> [UInt64: UInt64] {
        guard case .array(let elements) = field.value else { throw field.wrongType("an array of merges") }
        var merges: [UInt64: UInt64] = [:]
        merges.reserveCapacity(elements.count)
        for (rank, element) in elements.enumerated() {
            let left: String, right: String
            switch element {
            case .string(let line):
                // Split on the byte ' ' (a Character split would keep " " + a combining mark together).
                let parts = line.unicodeScalars.split(separator: " ", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
                guard parts.count == 2 else {
                    throw JSONField(element, file: field.file, path: "\(field.path)[\(rank)]").invalid("a merge must be two tokens separated by one space, got \"\(line)\"")
                }
                (left, right) = (parts[0], parts[1])
            case .array(let pair) where pair.count == 2:
                guard case .string(let a) = pair[0], case .string(let b) = pair[1] else {
                    throw JSONField(element, file: field.file, path: "\(field.path)[\(rank)]").wrongType("a pair of strings")
                }
                (left, right) = (a, b)
            default:
                throw JSONField(element, file: field.file, path: "\(field.path)[\(rank)]").wrongType("a string \"a b\" or a pair [\"a\", \"b\"]")
            }
            func id(_ token: String) throws(TokenizerError) -> Int32 {
                guard let id = vocabulary[ExactString(token)] else {
                    throw JSONField(element, file: field.file, path: "\(field.path)[\(rank)]").invalid("the merged token \"\(token)\" is not in model.vocab")
                }
                return id
            }
            // The merged token is `left` + `right` without its continuing-subword prefix.
            let merged = right.utf8.starts(with: prefix.utf8) ? left + String(decoding: right.utf8.dropFirst(prefix.utf8.count), as: UTF8.self) : left + right
            let key = UInt64(UInt32(try id(left))) << 32 | UInt64(UInt32(try id(right)))
            merges[key] = UInt64(rank) << 32 | UInt64(UInt32(try id(merged)))
        }
        return merges
    }

    func id(forToken token: String) -> Int32? { vocabulary[ExactString(token)] }

    func token(forId id: Int32) -> String? { id >= 0 && Int(id) < tokens.count ? tokens[Int(id)] : nil }

    func tokenize(_ word: [Unicode.Scalar], into ids: inout [Int32], state: inout EncodingState) {
        if word.isEmpty { return }
        if ignoreMerges, let id = word.count == 1 ? scalarIds[word[0].value] : vocabulary[ExactString(String(scalars: word))] {
            ids.append(id)
            return
        }
        if let cached = state.cache[word] {
            ids.append(contentsOf: cached)
            return
        }
        var symbols = initialSymbols(word)
        let merged = mergeAll(&symbols, &state)
        state.cache[word] = merged
        ids.append(contentsOf: merged)
    }

    /// The word's characters as ids, with unknown characters handled as `merge_word` does:
    /// byte fallback first, else the unknown token (consecutive ones fused if `fuse_unk`).
    private func initialSymbols(_ word: [Unicode.Scalar]) -> [Int32] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.count)
        let plain = (continuingSubwordPrefix ?? "").isEmpty && (endOfWordSuffix ?? "").isEmpty
        var pendingUnk = false
        for (i, scalar) in word.enumerated() {
            var piece = ""
            let id: Int32?
            if plain {
                id = scalarIds[scalar.value]
            } else {
                if i > 0, let prefix = continuingSubwordPrefix { piece += prefix }
                piece.unicodeScalars.append(scalar)
                if i == word.count - 1, let suffix = endOfWordSuffix { piece += suffix }
                id = vocabulary[ExactString(piece)]
            }
            if let id {
                if pendingUnk, let unkId { symbols.append(unkId); pendingUnk = false }
                symbols.append(id)
                continue
            }
            if byteFallback {
                let bytes = plain ? Array(UTF8.encode(scalar)!) : Array(piece.utf8)
                let fallback = bytes.compactMap { byteIds[Int($0)] }
                if fallback.count == bytes.count {
                    symbols.append(contentsOf: fallback)
                    continue
                }
            }
            if let unkId {
                if pendingUnk && !fuseUnk { symbols.append(unkId) }
                pendingUnk = true
            }
        }
        if pendingUnk, let unkId { symbols.append(unkId) }
        return symbols
    }

    /// Applies merges lowest rank first (leftmost on ties), like `Word::merge_all`: a heap of
    /// candidate pairs over a linked list of symbols, so long words stay O(n log n).
    private func mergeAll(_ ids: inout [Int32], _ state: inout EncodingState) -> [Int32] {
        let count = ids.count
        if count < 2 { return ids }
        // A removed symbol is marked by `previous == -2`.
        state.previous.removeAll(keepingCapacity: true)
        state.next.removeAll(keepingCapacity: true)
        for i in 0..<count {
            state.previous.append(Int32(i) - 1)
            state.next.append(i + 1 < count ? Int32(i + 1) : -1)
        }
        state.heap.removeAll()
        for i in 0..<(count - 1) {
            if let merge = merges[pairKey(ids[i], ids[i + 1])] { state.heap.push(rank: merge >> 32, position: i, newId: Int32(truncatingIfNeeded: merge)) }
        }
        while let top = state.heap.pop() {
            let position = top.position
            guard state.previous[position] != -2, state.next[position] >= 0 else { continue }
            let right = Int(state.next[position])
            // A stale entry: the pair at this position has changed since it was queued.
            guard let merge = merges[pairKey(ids[position], ids[right])], Int32(truncatingIfNeeded: merge) == top.newId else { continue }
            ids[position] = top.newId
            state.previous[right] = -2
            let afterRight = state.next[right]
            state.next[position] = afterRight
            if afterRight >= 0 { state.previous[Int(afterRight)] = Int32(position) }
            let before = state.previous[position]
            if before >= 0, let merge = merges[pairKey(ids[Int(before)], ids[position])] {
                state.heap.push(rank: merge >> 32, position: Int(before), newId: Int32(truncatingIfNeeded: merge))
            }
            if afterRight >= 0, let merge = merges[pairKey(ids[position], ids[Int(afterRight)])] {
                state.heap.push(rank: merge >> 32, position: position, newId: Int32(truncatingIfNeeded: merge))
            }
        }
        var result: [Int32] = []
        var i = 0
        while i >= 0 {
            result.append(ids[i])
            i = Int(state.next[i])
        }
        return result
    }
}

@inline(__always) private func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
}

/// Two uppercase hex digits, as Rust's `{:02X}`.
func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF".unicodeScalars)
    return String(scalars: [digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
