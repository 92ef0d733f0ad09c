// NFD/NFC/NFKD/NFKC over scalars, which neither the stdlib nor FoundationEssentials offers on Linux:
// decompositions from a generated table, combining classes from the stdlib's scalar properties.

enum NormalizationForm: Sendable {
    case nfd, nfc, nfkd, nfkc
}

private struct NormalizationTables: Sendable {
    var canonical: [UInt32: [Unicode.Scalar]] = [:]
    var compatibility: [UInt32: [Unicode.Scalar]] = [:]
    /// Primary composites keyed by `first << 32 | second`.
    var composites: [UInt64: Unicode.Scalar] = [:]

    /// Parsed once, on first use: most tokenizers never normalize.
    static let shared = NormalizationTables(data: unicodeDecompositionData)

    init(data: String) {
        for entry in Array(data.utf8).split(separator: UInt8(ascii: ";")) {
            guard let kindIndex = entry.firstIndex(where: { $0 >= UInt8(ascii: "d") }) else { continue }
            let code = UInt32(hex: entry[entry.startIndex..<kindIndex])
            let mapping = entry[(kindIndex + 1)...].split(separator: UInt8(ascii: " ")).map { Unicode.Scalar(UInt32(hex: $0))! }
            switch entry[kindIndex] {
            case UInt8(ascii: "d"): canonical[code] = mapping
            case UInt8(ascii: "k"): compatibility[code] = mapping
            default: composites[UInt64(mapping[0].value) << 32 | UInt64(mapping[1].value)] = Unicode.Scalar(code)!
            }
        }
    }
}

private extension UInt32 {
    init(hex digits: ArraySlice<UInt8>) {
        var value: UInt32 = 0
        for digit in digits { value = value << 4 | UInt32(digit <= UInt8(ascii: "9") ? digit - UInt8(ascii: "0") : digit - UInt8(ascii: "A") + 10) }
        self = value
    }
}

// Hangul syllables decompose and compose by arithmetic (Unicode 3.12).
private let hangulSBase: UInt32 = 0xAC00, hangulLBase: UInt32 = 0x1100, hangulVBase: UInt32 = 0x1161, hangulTBase: UInt32 = 0x11A7
private let hangulLCount: UInt32 = 19, hangulVCount: UInt32 = 21, hangulTCount: UInt32 = 28
private let hangulNCount = hangulVCount * hangulTCount, hangulSCount = hangulLCount * hangulNCount

@inline(__always) private func combiningClass(_ scalar: Unicode.Scalar) -> UInt8 {
    scalar.value < 0x300 ? 0 : scalar.properties.canonicalCombiningClass.rawValue
}

/// `scalars` in the given normalization form.
func normalize(_ scalars: [Unicode.Scalar], form: NormalizationForm) -> [Unicode.Scalar] {
    // Nothing below U+00A0 decomposes, composes or has a combining class.
    if !scalars.contains(where: { $0.value >= 0xA0 }) { return scalars }
    let compatible = form == .nfkd || form == .nfkc
    let decomposed = decompose(scalars, compatible: compatible)
    return form == .nfc || form == .nfkc ? compose(decomposed) : decomposed
}

private func decompose(_ scalars: [Unicode.Scalar], compatible: Bool) -> [Unicode.Scalar] {
    let tables = NormalizationTables.shared
    var out: [Unicode.Scalar] = []
    out.reserveCapacity(scalars.count)
    for scalar in scalars {
        let s = scalar.value
        if s >= hangulSBase && s < hangulSBase + hangulSCount {
            let index = s - hangulSBase
            out.append(Unicode.Scalar(hangulLBase + index / hangulNCount)!)
            out.append(Unicode.Scalar(hangulVBase + (index % hangulNCount) / hangulTCount)!)
            if index % hangulTCount != 0 { out.append(Unicode.Scalar(hangulTBase + index % hangulTCount)!) }
        } else if compatible, let mapping = tables.compatibility[s] {
            out.append(contentsOf: mapping)
        } else if let mapping = tables.canonical[s] {
            out.append(contentsOf: mapping)
        } else {
            out.append(scalar)
        }
    }
    // Canonical ordering: a stable sort of each run of non-starters by combining class.
    var i = 1
    while i < out.count {
        let cc = combiningClass(out[i])
        if cc != 0 {
            var j = i
            while j > 0, combiningClass(out[j - 1]) > cc {
                out.swapAt(j, j - 1)
                j -= 1
            }
        }
        i += 1
    }
    return out
}

private func compose(_ scalars: [Unicode.Scalar]) -> [Unicode.Scalar] {
    let tables = NormalizationTables.shared
    var out: [Unicode.Scalar] = []
    out.reserveCapacity(scalars.count)
    var starter: Int? = nil
    var lastClass: UInt8 = 0
    for scalar in scalars {
        let cc = combiningClass(scalar)
        // Blocked unless adjacent to the starter or of a higher class than everything between.
        if let s = starter, out.count == s + 1 || lastClass < cc,
           let composite = composePair(out[s], scalar, tables) {
            out[s] = composite
            continue
        }
        if cc == 0 { starter = out.count }
        lastClass = cc
        out.append(scalar)
    }
    return out
}

private func composePair(_ first: Unicode.Scalar, _ second: Unicode.Scalar, _ tables: NormalizationTables) -> Unicode.Scalar? {
    let a = first.value, b = second.value
    if a >= hangulLBase && a < hangulLBase + hangulLCount && b >= hangulVBase && b < hangulVBase + hangulVCount {
        return Unicode.Scalar(hangulSBase + ((a - hangulLBase) * hangulVCount + (b - hangulVBase)) * hangulTCount)
    }
    if a >= hangulSBase && a < hangulSBase + hangulSCount && (a - hangulSBase) % hangulTCount == 0
        && b > hangulTBase && b < hangulTBase + hangulTCount {
        return Unicode.Scalar(a + (b - hangulTBase))
    }
    return tables.composites[UInt64(a) << 32 | UInt64(b)]
}
