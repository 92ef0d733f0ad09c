// Weights the builder derives from the checkpoint's (concatenated projections). A derived
// weight's name says how to make it, so engines rebuild them on refit from the base weights.

import KilnTensor

public enum DerivedWeight {
    private static let prefix = "concat_rows("

    /// The name of the weight whose rows are those of `names`, in order.
    public static func concatenatedRows(_ names: [String]) -> String { prefix + names.joined(separator: ",") + ")" }

    /// The base weights a derived name is made of, or nil for a checkpoint weight.
    public static func sources(of name: String) -> [String]? {
        guard name.hasPrefix(prefix), name.hasSuffix(")") else { return nil }
        return name.dropFirst(prefix.count).dropLast().split(separator: ",").map(String.init)
    }

    /// Every weight in `names`, taken from `base` or derived from it; nil entries are missing.
    public static func materialize(_ names: [String], from base: [String: HostTensor]) -> [String: HostTensor?] {
        var result: [String: HostTensor?] = [:]
        for name in names {
            guard let sources = sources(of: name) else {
                result[name] = base[name]
                continue
            }
            let parts = sources.compactMap { base[$0] }
            guard parts.count == sources.count, let first = parts.first,
                  parts.allSatisfy({ $0.dtype == first.dtype && $0.shape.count == 2 && $0.shape[1] == first.shape[1] }) else {
                result[name] = .some(nil)
                continue
            }
            // rows are contiguous in every format (block formats store whole blocks per row)
            let total = parts.reduce(0) { $0 + $1.byteCount }
            let storage = TensorStorage(byteCount: total) { out in
                var offset = 0
                for part in parts {
                    part.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + $0.count)]).copyMemory(from: $0) }
                    offset += part.byteCount
                }
            }
            result[name] = HostTensor(dtype: first.dtype, shape: [parts.reduce(0) { $0 + $1.shape[0] }, first.shape[1]], storage: storage)
        }
        return result
    }
}
