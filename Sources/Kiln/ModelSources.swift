// What a model path points at: an engine folder, a GGUF file, or a Hugging Face folder.

import FoundationEssentials
import KilnCompiler
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether `path` is an engine folder (it holds engine.json).
public func isEngineFolder(_ path: String) -> Bool {
    FileManager.default.fileExists(atPath: path + "/" + Engine.headerFile)
}

/// Whether `path` is a GGUF file (by its magic), rather than a model folder.
public func isGGUFFile(_ path: String) -> Bool {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var magic = [UInt8](repeating: 0, count: 4)
    return read(descriptor, &magic, 4) == 4 && magic == Array("GGUF".utf8)
}
