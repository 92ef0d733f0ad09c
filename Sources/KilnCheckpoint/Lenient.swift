// Decodes JSON in the form a well-formed file has, at full JSONDecoder speed, while keeping
// anything else as a generic value so the caller can say exactly what is wrong with it.
// (Decoding everything generically costs a failed type probe per value: ~20× slower on
// headers with tens of thousands of tensors.)

/// A value decoded as `T` when it has that form, else kept as any JSON.
enum Lenient<T: Decodable>: Decodable {
    case expected(T)
    case other(JSONValue)

    init(from decoder: any Decoder) throws {
        if let value = try? T(from: decoder) {
            self = .expected(value)
        } else {
            self = .other(try JSONValue(from: decoder))
        }
    }
}

/// A safetensors tensor entry whose fields have the right JSON types; values are unchecked.
struct TensorEntry: Decodable {
    let dtype: String
    let shape: [Int]
    let dataOffsets: [Int]

    private enum CodingKeys: String, CodingKey {
        case dtype, shape
        case dataOffsets = "data_offsets"
    }
}
