// Strings compared by their UTF-8 bytes: Swift's `==` equates canonically equivalent spellings,
// but JSON keys and vocabularies are byte strings where both spellings can be distinct entries.

/// A `String` with byte-exact equality and hashing, for dictionary keys.
public struct ExactString: Hashable, Sendable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) {
        var value = value
        value.makeContiguousUTF8()
        self.value = value
    }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.value.utf8.elementsEqual(rhs.value.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        var value = value
        value.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public var description: String { value }
}
