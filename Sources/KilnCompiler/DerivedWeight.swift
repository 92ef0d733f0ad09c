// Weights the builder derives from the checkpoint's: concatenated projections, weights
// stored in another precision, float32 copies for kernels that read only float32. A derived
// weight's name is its recipe — `concat_rows(a,b)`, `bf16(w)`, `f32(bf16(w))` — so engines
// rebuild them from the base weights on refit, and constant folding only has to name them.

import KilnTensor

public enum DerivedWeight {
    private static let concatRows = "concat_rows"
    /// Element types a recipe may convert to, by their recipe names.
    private static let conversions: [String: DType] = ["f32": .f32, "bf16": .bf16, "f16": .f16]

    /// The weight whose rows are those of `names`, in order.
    public static func concatenatedRows(_ names: [String]) -> String { "\(concatRows)(" + names.joined(separator: ",") + ")" }

    /// `name` stored as `dtype` (f32, bf16 or f16; block formats widen to f32).
    public static func converted(_ name: String, to dtype: DType) -> String {
        let function = conversions.first { $0.value == dtype }?.key
        precondition(function != nil, "weights convert to f32, bf16 or f16, not \(dtype)")
        return "\(function!)(\(name))"
    }

    /// The function and arguments of a derived name, or nil for a checkpoint weight.
    static func recipe(of name: String) -> (function: String, arguments: [String])? {
        guard name.hasSuffix(")"), let open = name.firstIndex(of: "(") else { return nil }
        let function = String(name[..<open])
        guard function == concatRows || conversions[function] != nil else { return nil }
        var arguments: [String] = [], depth = 0, current = ""
        for character in name[name.index(after: open)..<name.index(before: name.endIndex)] {
            switch character {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                arguments.append(current)
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        arguments.append(current)
        return (function, arguments)
    }

    /// The checkpoint weights a name is made of (itself, for a checkpoint weight).
    public static func baseNames(of name: String) -> [String] {
        guard let recipe = recipe(of: name) else { return [name] }
        return recipe.arguments.flatMap(baseNames(of:))
    }

    /// Every weight in `names`, taken from `base` or derived from it; nil entries are
    /// missing or cannot be made (rows of different widths or types).
    public static func materialize(_ names: [String], from base: [String: HostTensor]) -> [String: HostTensor?] {
        var made: [String: HostTensor?] = [:]
        func make(_ name: String) -> HostTensor? {
            if let done = made[name] { return done }
            let result: HostTensor?
            if let (function, arguments) = recipe(of: name) {
                let parts = arguments.compactMap(make)
                if parts.count != arguments.count {
                    result = nil
                } else if let dtype = conversions[function] {
                    result = parts[0].converted(to: dtype)
                } else {
                    result = rowsConcatenated(parts)
                }
            } else {
                result = base[name]
            }
            made[name] = .some(result)
            return result
        }
        return Dictionary(uniqueKeysWithValues: names.map { ($0, make($0)) })
    }

    private static func rowsConcatenated(_ parts: [HostTensor]) -> HostTensor? {
        guard let first = parts.first,
              parts.allSatisfy({ $0.dtype == first.dtype && $0.shape.count == 2 && $0.shape[1] == first.shape[1] }) else { return nil }
        // rows are contiguous in every format (block formats store whole blocks per row)
        let total = parts.reduce(0) { $0 + $1.byteCount }
        let storage = TensorStorage(byteCount: total) { out in
            var offset = 0
            for part in parts {
                part.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + $0.count)]).copyMemory(from: $0) }
                offset += part.byteCount
            }
        }
        return HostTensor(dtype: first.dtype, shape: [parts.reduce(0) { $0 + $1.shape[0] }, first.shape[1]], storage: storage)
    }
}
