// The character classes tokenizers test, as onig and Rust define them (`\p{L}`, `\p{N}`, `\s`,
// `\w`, punctuation, marks); ASCII from a table, as these sit in the innermost loops.

private let asciiClasses: [UInt8] = (0..<128).map { code -> UInt8 in
    let scalar = Unicode.Scalar(UInt8(code))
    var bits: UInt8 = 0
    if (65...90).contains(code) || (97...122).contains(code) { bits |= ScalarClass.letter }
    if (48...57).contains(code) { bits |= ScalarClass.number }
    if scalar.properties.isWhitespace { bits |= ScalarClass.whitespace }
    if (33...47).contains(code) || (58...64).contains(code) || (91...96).contains(code) || (123...126).contains(code) {
        bits |= ScalarClass.punctuation
    }
    return bits
}

enum ScalarClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 4
    /// ASCII punctuation (Rust's `is_ascii_punctuation`, which counts symbols like `$`) or Unicode P*.
    static let punctuation: UInt8 = 8
}

extension Unicode.Scalar {
    /// `\p{L}`: general category Lu, Ll, Lt, Lm or Lo.
    @inline(__always) var isLetter: Bool {
        if value < 128 { return asciiClasses[Int(value)] & ScalarClass.letter != 0 }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `\p{N}` and Rust's `char::is_numeric`: general category Nd, Nl or No.
    @inline(__always) var isNumber: Bool {
        if value < 128 { return asciiClasses[Int(value)] & ScalarClass.number != 0 }
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// onig's and Rust's `\s` and `char::is_whitespace`: the White_Space property.
    @inline(__always) var isWhiteSpace: Bool {
        if value < 128 { return asciiClasses[Int(value)] & ScalarClass.whitespace != 0 }
        return properties.isWhitespace
    }

    /// General category Mn, Mc or Me.
    var isMark: Bool {
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// Rust regex's Unicode `\w`: Alphabetic, marks, Nd, Pc and Join_Control.
    var isRegexWordCharacter: Bool {
        if value < 128 { return asciiClasses[Int(value)] & (ScalarClass.letter | ScalarClass.number) != 0 || value == 95 }
        if properties.isAlphabetic || properties.isJoinControl || isMark { return true }
        switch properties.generalCategory {
        case .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }

    /// The `tokenizers` library's punctuation test: ASCII punctuation or Unicode P*.
    var isTokenizerPunctuation: Bool {
        if value < 128 { return asciiClasses[Int(value)] & ScalarClass.punctuation != 0 }
        switch properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }
}

extension String {
    /// The string built from a run of scalars.
    init<C: Collection>(scalars: C) where C.Element == Unicode.Scalar {
        self.init(unsafeUninitializedCapacity: scalars.count * 4) { buffer in
            var count = 0
            for scalar in scalars {
                UTF8.encode(scalar) { unit in
                    buffer[count] = unit
                    count += 1
                }
            }
            return count
        }
    }
}
