// Scratch folders and hand-made safetensors bytes shared by the checkpoint tests.

import FoundationEssentials
import Testing
@testable import KilnCheckpoint
import KilnTensor

/// A fresh folder under /tmp, removed with everything in it when the owner goes away.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = "/tmp/kiln-tests-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    func file(_ name: String) -> String {
        path + "/" + name
    }

    func write(_ bytes: [UInt8], to name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    }

    func write(_ text: String, to name: String) throws {
        try write(Array(text.utf8), to: name)
    }

    /// Writes a safetensors file whose header is exactly `header`, followed by `data`.
    func writeSafetensors(header: String, data: [UInt8] = [], to name: String) throws {
        try write(lengthPrefix(header.utf8.count) + Array(header.utf8) + data, to: name)
    }

    func entries() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    }
}

func lengthPrefix(_ length: Int) -> [UInt8] {
    withUnsafeBytes(of: UInt64(length).littleEndian, Array.init)
}

/// An F32 tensor whose values are `start`, `start + 1`, ….
func ramp(_ shape: [Int], from start: Float = 0) -> HostTensor {
    let count = shape.reduce(1, *)
    return HostTensor((0..<count).map { start + Float($0) }, shape: shape)
}

/// A tensor of `dtype` whose bytes follow a pattern that differs per dtype and position.
func patterned(_ dtype: DType, shape: [Int]) -> HostTensor {
    let byteCount = shape.reduce(1, *) * dtype.byteSize
    let salt = DType.allCases.firstIndex(of: dtype)!
    let bytes = (0..<byteCount).map { UInt8(truncatingIfNeeded: $0 * 37 + salt * 11 + 1) }
    return bytes.withUnsafeBytes { HostTensor(dtype: dtype, shape: shape, copying: $0) }
}

/// A copy of the tensor's bytes.
func contents(of tensor: HostTensor) -> [UInt8] {
    tensor.withUnsafeBytes { Array($0) }
}

/// Runs `body`, expecting exactly `expected`, and checks the message names `fileName`.
func expectError(
    _ expected: SafetensorsError,
    naming fileName: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    expectError(naming: fileName, sourceLocation: sourceLocation, body) { error in
        #expect(error == expected, sourceLocation: sourceLocation)
    }
}

/// Runs `body`, expecting it to throw; `check` inspects the error, whose message must
/// name `fileName` on a single line.
func expectError(
    naming fileName: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void,
    check: (SafetensorsError) -> Void
) {
    do {
        try body()
        Issue.record("expected an error naming \(fileName)", sourceLocation: sourceLocation)
    } catch {
        guard let error = error as? SafetensorsError else {
            Issue.record("expected a SafetensorsError, got \(error)", sourceLocation: sourceLocation)
            return
        }
        check(error)
        #expect(error.description.contains(fileName), sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
    }
}
