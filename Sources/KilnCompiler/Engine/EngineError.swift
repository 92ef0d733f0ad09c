// What can be wrong with an engine folder; every message says how to get a good one.

public enum EngineError: Error, CustomStringConvertible, Equatable {
    case missing(file: String)
    case unreadable(file: String, reason: String)
    case notAnEngine(file: String)
    case formatVersion(file: String, found: Int, supported: Int)
    case backend(file: String, built: String, requested: String)
    case device(file: String, built: String, available: [String])
    case truncated(file: String, expectedBytes: Int, actualBytes: Int)
    case checksum(file: String)
    case cannotWrite(file: String, reason: String)
    case refitMismatch(engine: String, mismatches: [String])

    private static let rebuild = "rebuild it with `kiln build --model MODEL --output DIR`"

    public var description: String {
        switch self {
        case .missing(let file): "\(file) is missing; this folder is not a Kiln engine — \(Self.rebuild)"
        case .unreadable(let file, let reason): "\(file): cannot read (\(reason))"
        case .notAnEngine(let file): "\(file) is not a Kiln engine header; \(Self.rebuild)"
        case .formatVersion(let file, let found, let supported):
            "\(file): engine format \(found), this Kiln reads format \(supported); \(Self.rebuild)"
        case .backend(let file, let built, let requested):
            "\(file): the engine was built for the \(built) backend, not \(requested); \(Self.rebuild) --backend \(requested)"
        case .device(let file, let built, let available):
            "\(file): the engine's kernels were chosen for \(built); this machine runs \(available.joined(separator: ", ")) — "
                + "\(Self.rebuild) on this machine"
        case .truncated(let file, let expected, let actual):
            "\(file) holds \(actual) bytes, the engine needs \(expected): it is truncated — \(Self.rebuild)"
        case .checksum(let file): "\(file): checksum mismatch, the weights are corrupt — \(Self.rebuild) or refit it"
        case .cannotWrite(let file, let reason): "\(file): cannot write (\(reason))"
        case .refitMismatch(let engine, let mismatches):
            "\(engine): the new weights do not fit the engine (same names, shapes and dtypes needed): " + mismatches.joined(separator: "; ")
        }
    }
}
