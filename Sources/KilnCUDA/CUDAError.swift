// CUDA failures as Swift errors: the call, the code's name and what to do.

public enum CUDAError: Error, CustomStringConvertible, Equatable {
    case libraryMissing(CUDALibraryKind, tried: [String])
    case missingSymbol(library: String, symbol: String)
    /// A driver call returned `code` (named `name` by the driver).
    case driver(call: String, code: Int32, name: String)

    public var description: String {
        switch self {
        case .libraryMissing(let kind, let tried):
            "\(kind.rawValue) not found (tried \(tried.prefix(4).joined(separator: ", "))…); \(kind.installHint)"
        case .missingSymbol(let library, let symbol):
            "\(library) has no \(symbol): the library is older than Kiln needs; update the CUDA installation"
        case .driver(let call, let code, let name):
            "\(call) failed with \(name) (\(code))" + Self.hint(name)
        }
    }

    private static func hint(_ name: String) -> String {
        switch name {
        case "CUDA_ERROR_NO_DEVICE": "; no GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES)"
        case "CUDA_ERROR_INSUFFICIENT_DRIVER": "; the driver is older than the CUDA libraries: update the NVIDIA driver"
        case "CUDA_ERROR_OUT_OF_MEMORY": "; the GPU is out of memory: lower --kv-cache-fraction or the batch size"
        default: ""
        }
    }
}
