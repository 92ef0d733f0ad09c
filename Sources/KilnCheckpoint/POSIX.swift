// The few POSIX file-system calls the checkpoint code needs, wrapped for Swift.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The current `errno` as a human-readable message.
func systemErrorMessage() -> String {
    String(cString: strerror(errno))
}

/// Follows symlinks, so files in a Hugging Face cache snapshot (links to blobs) count.
func isRegularFile(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
}

func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// The folder part of `path`, "." when it has none.
func parentDirectory(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// Names of the entries in `directory`, without "." and "..".
func directoryEntries(_ directory: String) throws(SafetensorsError) -> [String] {
    guard let stream = opendir(directory) else {
        throw .cannotOpen(file: directory, reason: systemErrorMessage())
    }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// The last path component.
func fileName(of path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

/// Loops because write may accept fewer bytes than asked (large buffers, signals).
func writeAll(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
    var done = 0
    while done < buffer.count {
        let count = write(descriptor, buffer.baseAddress! + done, buffer.count - done)
        if count < 0 {
            if errno == EINTR { continue }
            return false
        }
        done += count
    }
    return true
}

func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { writeAll(descriptor, $0) }
}
