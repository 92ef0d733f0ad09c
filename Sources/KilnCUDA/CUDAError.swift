// CUDA failures as Swift errors: the call, the code's name and what to do.

public enum CUDAError: Error, CustomStringConvertible, Equatable {
    case libraryMissing(CUDALibraryKind, tried: [String])
    case missingSymbol(library: String, symbol: String)
    /// A driver call returned `code` (named `name` by the driver).
    case driver(call: String, code: Int32, name: String)
    /// A device allocation did not fit.
    case outOfMemory(purpose: String, requested: Int, free: Int)
    /// NVRTC refused a kernel source; `log` is its compiler output.
    case compilation(kernel: String, log: String)
    /// An NVRTC call failed outside compilation.
    case nvrtc(call: String, code: Int32)
    /// A cuBLAS(Lt) call returned `status`.
    case cublas(call: String, status: Int32)

    public var description: String {
        switch self {
        case .libraryMissing(let kind, let tried):
            "\(kind.rawValue) not found (tried \(tried.prefix(4).joined(separator: ", "))…); \(kind.installHint)"
        case .missingSymbol(let library, let symbol):
            "\(library) has no \(symbol): the library is older than Kiln needs; update the CUDA installation"
        case .driver(let call, let code, let name):
            "\(call) failed with \(name) (\(code))" + Self.hint(name)
        case .outOfMemory(let purpose, let requested, let free):
            "the GPU is out of memory: \(purpose) needs \(Self.gib(requested)) but \(Self.gib(free)) are free; "
                + "lower --kv-cache-fraction, --max-num-tokens or --max-batch-size, or use a GPU with more memory"
        case .compilation(let kernel, let log):
            "NVRTC could not compile \(kernel):\n\(log)"
        case .nvrtc(let call, let code):
            "\(call) failed with NVRTC status \(code); check that libnvrtc matches the driver (kiln doctor)"
        case .cublas(let call, let status):
            "\(call) failed with cuBLAS status \(status)" + (status == 15 ? " (not supported for these shapes or types)" : "")
        }
    }

    private static func gib(_ bytes: Int) -> String {
        "\((Double(bytes) / 1_073_741_824 * 100).rounded() / 100) GiB"
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
