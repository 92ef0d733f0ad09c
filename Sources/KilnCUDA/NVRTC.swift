// NVRTC: CUDA C++ compiled at run time for the exact GPU in hand, with compiled kernels kept
// on disk so a machine compiles each source once.

import FoundationEssentials

#if canImport(Glibc)
import Glibc
#endif

/// The run-time compiler, opened from libnvrtc.
public final class NVRTC: Sendable {
    public let library: CUDALibrary
    private let api: Functions

    private struct Functions: @unchecked Sendable {
        let version: @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Int32
        let createProgram: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int32,
                                           UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
        let compileProgram: @convention(c) (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
        let logSize: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>?) -> Int32
        let log: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int32
        let cubinSize: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int>?) -> Int32
        let cubin: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int32
        let destroyProgram: @convention(c) (UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    }

    public init() throws(CUDAError) {
        let (opened, tried) = CUDALibrary.open(.nvrtc)
        guard let library = opened else { throw .libraryMissing(.nvrtc, tried: tried) }
        self.library = library
        func f<T>(_ name: String, _ type: T.Type = T.self) throws(CUDAError) -> T { try library.function(name, as: type) }
        api = Functions(version: try f("nvrtcVersion"), createProgram: try f("nvrtcCreateProgram"), compileProgram: try f("nvrtcCompileProgram"),
                        logSize: try f("nvrtcGetProgramLogSize"), log: try f("nvrtcGetProgramLog"), cubinSize: try f("nvrtcGetCUBINSize"),
                        cubin: try f("nvrtcGetCUBIN"), destroyProgram: try f("nvrtcDestroyProgram"))
    }

    /// NVRTC's version, e.g. "13.0".
    public var version: String {
        var major: Int32 = 0, minor: Int32 = 0
        _ = api.version(&major, &minor)
        return "\(major).\(minor)"
    }

    /// Compiles `source` (named `name` in messages) to a cubin for `architecture` (`sm_90`).
    public func compile(_ source: String, name: String, architecture: String, options extra: [String] = []) throws(CUDAError) -> [UInt8] {
        var program: OpaquePointer?
        let created = api.createProgram(&program, source, name, 0, nil, nil)
        guard created == 0 else { throw .nvrtc(call: "nvrtcCreateProgram(\(name))", code: created) }
        defer { _ = api.destroyProgram(&program) }
        let options = ["--gpu-architecture=\(architecture)", "--std=c++17", "-default-device"] + extra
        let cStrings = options.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let status = cStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { api.compileProgram(program, Int32(options.count), $0.baseAddress) }
        guard status == 0 else {
            var size = 0
            _ = api.logSize(program, &size)
            var log = [CChar](repeating: 0, count: size + 1)
            _ = api.log(program, &log)
            throw .compilation(kernel: name, log: String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        var size = 0
        let sized = api.cubinSize(program, &size)
        guard sized == 0 else { throw .nvrtc(call: "nvrtcGetCUBINSize(\(name))", code: sized) }
        var cubin = [UInt8](repeating: 0, count: size)
        let got = cubin.withUnsafeMutableBytes { api.cubin(program, $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        guard got == 0 else { throw .nvrtc(call: "nvrtcGetCUBIN(\(name))", code: got) }
        return cubin
    }
}

/// A compiled module and the file name that keys it (source, options, GPU, NVRTC).
public struct CompiledModule: Sendable {
    public let fileName: String
    public let cubin: [UInt8]
}

/// Compiles kernel sources for one GPU, keeping each cubin on disk under a key of the
/// source, the options, the GPU architecture and the NVRTC version.
public struct KernelCompiler: Sendable {
    public let nvrtc: NVRTC
    public let architecture: String
    /// Where cubins are kept; nil compiles every time.
    public let cacheDirectory: String?
    /// Folders read before the cache and never written (an engine's own kernels).
    public let prebuiltDirectories: [String]

    public init(nvrtc: NVRTC, architecture: String, cacheDirectory: String?, prebuiltDirectories: [String] = []) {
        self.nvrtc = nvrtc
        self.architecture = architecture
        self.cacheDirectory = cacheDirectory
        self.prebuiltDirectories = prebuiltDirectories
    }

    /// The cubin of `source`: an engine's, this machine's cached one, or compiled now.
    public func cubin(_ source: String, name: String, options: [String] = []) throws(CUDAError) -> (module: CompiledModule, cached: Bool) {
        let key = fnv1a64([source, options.joined(separator: " "), architecture, nvrtc.version].joined(separator: "\u{0}"))
        let fileName = "\(name)-\(architecture)-\(String(key, radix: 16)).cubin"
        for directory in prebuiltDirectories + (cacheDirectory.map { [$0] } ?? []) {
            if let data = FileManager.default.contents(atPath: directory + "/" + fileName), !data.isEmpty {
                return (CompiledModule(fileName: fileName, cubin: [UInt8](data)), true)
            }
        }
        let cubin = try nvrtc.compile(source, name: name, architecture: architecture, options: options)
        if let directory = cacheDirectory {
            let file = directory + "/" + fileName
            // a failed write only costs a compile next time; written aside and renamed, so a
            // reader never sees half a file
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let temporary = file + ".\(getpid()).tmp"
            if FileManager.default.createFile(atPath: temporary, contents: Data(cubin)) { rename(temporary, file) }
        }
        return (CompiledModule(fileName: fileName, cubin: cubin), false)
    }
}

/// 64-bit FNV-1a of a string's UTF-8 bytes: a stable cache key (Swift's `hashValue` is
/// seeded per process).
func fnv1a64(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    return hash
}
