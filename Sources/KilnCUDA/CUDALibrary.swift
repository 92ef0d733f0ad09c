// Finding and opening NVIDIA's libraries at run time: Kiln links no CUDA library, so the
// same binary builds and runs on machines without a GPU.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One of the NVIDIA libraries Kiln opens with `dlopen`.
public enum CUDALibraryKind: String, CaseIterable, Sendable {
    case driver = "libcuda"
    case nvrtc = "libnvrtc"
    case cublas = "libcublas"
    case cublasLt = "libcublasLt"
    case nccl = "libnccl"

    /// File names to try, newest first (CUDA 13 and 12 sonames).
    var sonames: [String] {
        switch self {
        case .driver: ["libcuda.so.1", "libcuda.so"]
        case .nccl: ["libnccl.so.2", "libnccl.so"]
        default: ["\(rawValue).so.13", "\(rawValue).so.12", "\(rawValue).so"]
        }
    }

    /// What to install when it is missing.
    public var installHint: String {
        switch self {
        case .driver: "install the NVIDIA driver (it provides libcuda.so.1)"
        case .nvrtc: "install the CUDA toolkit's NVRTC (cuda-nvrtc) or set KILN_CUDA_LIB_DIR to its lib64 folder"
        case .cublas, .cublasLt: "install cuBLAS (libcublas) or set KILN_CUDA_LIB_DIR to its lib64 folder"
        case .nccl: "install NCCL (libnccl2), needed only for several GPUs"
        }
    }
}

/// An opened library: where it was found, and its symbols.
///
/// Invariant: the handle stays open for the life of the process (libraries are never
/// unloaded, so symbol pointers never dangle).
public final class CUDALibrary: @unchecked Sendable {
    public let kind: CUDALibraryKind
    /// The path or soname `dlopen` accepted.
    public let path: String
    private let handle: UnsafeMutableRawPointer

    private init(kind: CUDALibraryKind, path: String, handle: UnsafeMutableRawPointer) {
        self.kind = kind
        self.path = path
        self.handle = handle
    }

    /// The folders searched before the loader's default: `KILN_CUDA_LIB_DIR`,
    /// `CUDA_HOME/lib64`, `/usr/local/cuda/lib64`.
    static var searchFolders: [String] {
        var folders: [String] = []
        if let dir = getenv("KILN_CUDA_LIB_DIR") { folders.append(String(cString: dir)) }
        if let home = getenv("CUDA_HOME") { folders.append(String(cString: home) + "/lib64") }
        folders.append("/usr/local/cuda/lib64")
        return folders
    }

    /// Opens `kind` from the search folders, then by soname through the loader; nil when
    /// no candidate opens (`attempts` says what was tried).
    public static func open(_ kind: CUDALibraryKind) -> (library: CUDALibrary?, attempts: [String]) {
        var attempts: [String] = []
        let candidates = searchFolders.flatMap { folder in kind.sonames.map { folder + "/" + $0 } } + kind.sonames
        for candidate in candidates {
            if let handle = dlopen(candidate, RTLD_NOW | RTLD_GLOBAL) {
                return (CUDALibrary(kind: kind, path: candidate, handle: handle), attempts)
            }
            attempts.append(candidate)
        }
        return (nil, attempts)
    }

    /// The function `name` as `T` (a `@convention(c)` type), or an error naming it.
    func function<T>(_ name: String, as type: T.Type) throws(CUDAError) -> T {
        guard let symbol = dlsym(handle, name) else { throw .missingSymbol(library: path, symbol: name) }
        return unsafeBitCast(symbol, to: type)
    }
}
