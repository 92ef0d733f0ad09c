// Token ids that configs write as a number, a list, or null (`eos_token_id`).

/// One or several token ids.
public struct TokenIDs: Codable, Hashable, Sendable {
    public var ids: [Int]

    public init(_ ids: [Int]) { self.ids = ids }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            ids = []
        } else if let one = try? container.decode(Int.self) {
            ids = [one]
        } else {
            ids = try container.decode([Int].self)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(ids)
    }
}
