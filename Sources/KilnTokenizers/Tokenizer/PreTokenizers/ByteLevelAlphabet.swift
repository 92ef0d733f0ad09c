// GPT-2's byte-to-character map: every byte becomes a printable character, so byte-level
// vocabularies can be stored as text (space becomes `Ġ`, newline `Ċ`).

/// The character standing for each byte.
let byteLevelScalars: [Unicode.Scalar] = {
    var table = [Unicode.Scalar](repeating: " ", count: 256)
    var next: UInt32 = 256
    for byte in 0..<256 {
        if (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte) {
            table[byte] = Unicode.Scalar(UInt32(byte))!
        } else {
            table[byte] = Unicode.Scalar(next)!
            next += 1
        }
    }
    return table
}()

/// The byte each of those characters stands for, indexed by scalar value (all are below 324).
let byteLevelBytes: [Int16] = {
    var table = [Int16](repeating: -1, count: 324)
    for (byte, scalar) in byteLevelScalars.enumerated() { table[Int(scalar.value)] = Int16(byte) }
    return table
}()
