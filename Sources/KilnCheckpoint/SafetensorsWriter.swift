// Writes tensors as a safetensors file laid out the way the reference implementation
// does, replacing any existing file atomically.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import KilnTensor

/// Serialises host tensors to the safetensors format.
public enum SafetensorsWriter {
    /// Writes `tensors` to `path` through a temporary file in the same folder and a rename,
    /// so a crash never leaves half a file and readers holding the old file keep it intact.
    public static func write(
        _ tensors: [(name: String, tensor: HostTensor)],
        metadata: [String: String] = [:],
        to path: String
    ) throws(SafetensorsError) {
        var names = Set<String>()
        for (name, _) in tensors where !names.insert(name).inserted {
            throw .duplicateTensor(name: name, files: [path])
        }
        if let block = tensors.first(where: { $0.tensor.dtype.isBlockQuantized }) {
            throw .cannotWrite(file: path, reason: "tensor '\(block.name)' is \(block.tensor.dtype), which safetensors cannot hold; dequantize it first")
        }
        if names.contains("__metadata__") {
            throw .cannotWrite(file: path, reason: "'__metadata__' is reserved for the metadata map and cannot name a tensor")
        }
        // Widest elements first (then by name), as the reference does: with the data section
        // 8-aligned, every tensor then starts at a multiple of its element size.
        let ordered = tensors.sorted { a, b in
            a.tensor.dtype.byteSize != b.tensor.dtype.byteSize
                ? a.tensor.dtype.byteSize > b.tensor.dtype.byteSize
                : a.name < b.name
        }
        var header = Array(headerJSON(ordered, metadata: metadata).utf8)
        // Pad with spaces (valid trailing JSON whitespace) so the data section is 8-aligned.
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8))
        let headerLength = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init)

        let temporary = joinPath(parentDirectory(of: path),
                                 ".\(fileName(of: path)).tmp-\(UInt64.random(in: 0...UInt64.max))")
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotWrite(file: path, reason: systemErrorMessage()) }
        var failure: String?
        // fsync before rename: otherwise a crash can leave the new name on empty data.
        if !(writeAll(descriptor, headerLength) && writeAll(descriptor, header)
             && ordered.allSatisfy({ $0.tensor.withUnsafeBytes { writeAll(descriptor, $0) } })
             && fsync(descriptor) == 0) {
            failure = systemErrorMessage()
        }
        if close(descriptor) != 0, failure == nil { failure = systemErrorMessage() }
        if failure == nil, rename(temporary, path) != 0 { failure = systemErrorMessage() }
        if let failure {
            unlink(temporary)
            throw .cannotWrite(file: path, reason: failure)
        }
    }

    /// Top-level keys sorted, `__metadata__` first as the reference writes it.
    private static func headerJSON(_ ordered: [(name: String, tensor: HostTensor)], metadata: [String: String]) -> String {
        var members: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(quoted($0.value))" }
            members.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        var entries: [(name: String, json: String)] = []
        for (name, tensor) in ordered {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let json = "{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + tensor.byteCount)]}"
            entries.append((name, json))
            offset += tensor.byteCount
        }
        members += entries.sorted { $0.name < $1.name }.map { "\(quoted($0.name)):\($0.json)" }
        return "{\(members.joined(separator: ","))}"
    }

    private static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
