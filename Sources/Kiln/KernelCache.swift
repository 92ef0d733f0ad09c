// Kernel choices kept on disk per machine, so models built in memory (a Hugging Face folder
// or GGUF loaded directly) measure each kernel signature once, not at every start.

import FoundationEssentials
import KilnGraph
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON file of kernel choices under the cache folder (`KILN_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/kiln`, else `~/.cache/kiln`), one per device key.
struct KernelCache {
    let file: String

    init(deviceKey: String) {
        file = Self.root + "/kernels/" + deviceKey + ".json"
    }

    /// Kiln's cache folder; compiled GPU kernels go under `cuda/` in it.
    static var root: String {
        let environment = ProcessInfo.processInfo.environment
        return environment["KILN_CACHE_DIR"] ?? environment["XDG_CACHE_HOME"].map { $0 + "/kiln" }
            ?? (environment["HOME"] ?? ".") + "/.cache/kiln"
    }

    /// The stored choices; an unreadable or damaged cache counts as empty (it is rebuilt).
    func load() -> KernelSelection {
        guard let data = FileManager.default.contents(atPath: file),
              let selection = try? JSONDecoder().decode(KernelSelection.self, from: data) else { return KernelSelection() }
        return selection
    }

    /// Writes `selection` through a temporary file and a rename, so concurrent builds never
    /// read half a file; a cache that cannot be written is skipped (it only saves time).
    func store(_ selection: KernelSelection) {
        let folder = String(file[..<file.lastIndex(of: "/")!])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard (try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)) != nil,
              let data = try? encoder.encode(selection) else { return }
        let temporary = file + ".\(ProcessInfo.processInfo.processIdentifier).partial"
        guard FileManager.default.createFile(atPath: temporary, contents: data) else { return }
        if rename(temporary, file) != 0 { try? FileManager.default.removeItem(atPath: temporary) }
    }
}

/// Where GPU kernels compiled by NVRTC are kept on this machine (`cuda/` in the cache folder).
public var cudaKernelCacheDirectory: String { KernelCache.root + "/cuda" }
