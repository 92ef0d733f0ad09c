import Foundation
@testable import KilnCheckpoint
import Testing

/// The vocabulary-only GGUFs in ../shared/fixtures/gguf-vocab (absent: the tests skip).
let ggufVocabDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures/gguf-vocab").path
let ggufVocabAvailable = FileManager.default.fileExists(atPath: ggufVocabDirectory + "/ggml-vocab-gpt-2.gguf")

/// A GGUF file built in memory: header, metadata and tensors, written the way llama.cpp lays them out.
struct GGUFBuilder {
    var version: UInt32 = 3
    var bytes: [UInt8] = []
    var metadata: [(String, UInt32, [UInt8])] = []
    var tensors: [(name: String, shape: [UInt64], type: UInt32, data: [UInt8])] = []

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
    static func string(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    mutating func add(_ key: String, string value: String) { metadata.append((key, 8, Self.string(value))) }
    mutating func add(_ key: String, uint32 value: UInt32) { metadata.append((key, 4, Self.le(value))) }
    mutating func add(_ key: String, float32 value: Float) { metadata.append((key, 6, Self.le(value.bitPattern))) }
    mutating func add(_ key: String, strings: [String]) {
        metadata.append((key, 9, Self.le(UInt32(8)) + Self.le(UInt64(strings.count)) + strings.flatMap(Self.string)))
    }

    func build() -> [UInt8] {
        var out = Array("GGUF".utf8) + Self.le(version) + Self.le(UInt64(tensors.count)) + Self.le(UInt64(metadata.count))
        for (key, type, value) in metadata { out += Self.string(key) + Self.le(type) + value }
        var offset: UInt64 = 0
        var data: [UInt8] = []
        for tensor in tensors {
            out += Self.string(tensor.name) + Self.le(UInt32(tensor.shape.count)) + tensor.shape.flatMap(Self.le) + Self.le(tensor.type) + Self.le(offset)
            data += tensor.data + [UInt8](repeating: 0, count: (32 - tensor.data.count % 32) % 32)
            offset = UInt64(data.count)
        }
        out += [UInt8](repeating: 0, count: (32 - out.count % 32) % 32)
        return out + data
    }

    func write() throws -> String {
        let path = NSTemporaryDirectory() + "kiln-\(UUID().uuidString).gguf"
        try Data(build()).write(to: URL(fileURLWithPath: path))
        return path
    }
}

@Suite struct GGUFReaderTests {
    func sample() -> GGUFBuilder {
        var b = GGUFBuilder()
        b.add("general.architecture", string: "llama")
        b.add("llama.block_count", uint32: 2)
        b.add("llama.rope.freq_base", float32: 10000)
        b.add("tokenizer.ggml.tokens", strings: ["a", "b", "<s>"])
        let values: [Float] = [1, 2, 3, 4, 5, 6]
        b.tensors.append(("w", [3, 2], 0, values.flatMap { GGUFBuilder.le($0.bitPattern) }))
        b.tensors.append(("v", [2], 0, [Float](repeating: 7, count: 2).flatMap { GGUFBuilder.le($0.bitPattern) }))
        return b
    }

    @Test func readsMetadataAndTensorsInOrder() throws {
        let file = try GGUFFile(path: sample().write())
        #expect(file.version == 3)
        #expect(file.metadataKeys == ["general.architecture", "llama.block_count", "llama.rope.freq_base", "tokenizer.ggml.tokens"])
        #expect(file.metadata["llama.block_count"]?.int == 2)
        #expect(file.metadata["llama.rope.freq_base"]?.double == 10000)
        #expect(file.metadata["tokenizer.ggml.tokens"]?.array?.compactMap(\.string) == ["a", "b", "<s>"])
        let w = try #require(file.tensor(named: "w"))
        #expect(w.shape == [3, 2] && w.type == .f32 && w.byteRange.count == 24)
        let floats = file.withBytes(of: w) { raw in (0..<6).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        #expect(floats == [1, 2, 3, 4, 5, 6])
        #expect(file.tensor(named: "v")!.byteRange.lowerBound % 32 == 0)
    }

    func expectError(_ bytes: [UInt8], _ matches: (GGUFError) -> Bool) throws {
        let path = NSTemporaryDirectory() + "kiln-\(UUID().uuidString).gguf"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            _ = try GGUFFile(path: path)
            Issue.record("expected an error")
        } catch {
            #expect(matches(error), "\(error)")
            #expect(error.description.contains(path))
        }
    }

    @Test func badMagicIsRefused() throws {
        var bytes = sample().build()
        bytes[0] = UInt8(ascii: "X")
        try expectError(bytes) { $0 == .badMagic(file: $0.fileName) }
    }

    @Test func badVersionIsRefused() throws {
        var b = sample()
        b.version = 7
        try expectError(b.build()) { if case .unsupportedVersion(_, 7) = $0 { true } else { false } }
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        let full = sample().build()
        // cut inside the header, a key, a value, an array, the tensor table and the data (the
        // last 24 bytes are padding after the last tensor: cutting those leaves a valid file)
        for length in [3, 6, 14, 30, 40, 60, 90, 120, 160, 200, full.count - 40, full.count - 25] where length < full.count {
            try expectError(Array(full.prefix(length))) { error in
                switch error {
                case .badMagic, .truncated, .tensorOutOfRange: true
                default: false
                }
            }
        }
    }

    @Test func countsPastTheEndAreRefused() throws {
        var bytes = sample().build()
        bytes.replaceSubrange(16..<24, with: GGUFBuilder.le(UInt64(1) << 40))  // metadata count
        try expectError(bytes) { if case .truncated = $0 { true } else { false } }
    }

    @Test func stringLengthPastTheEndIsRefused() throws {
        var bytes = sample().build()
        bytes.replaceSubrange(24..<32, with: GGUFBuilder.le(UInt64(1) << 50))  // first key's length
        try expectError(bytes) { if case .truncated = $0 { true } else { false } }
    }

    @Test func tensorOffsetPastTheEndIsRefused() throws {
        var b = sample()
        b.tensors[1].shape = [4096]
        try expectError(b.build()) { $0 == .tensorOutOfRange(file: $0.fileName, tensor: "v") }
    }

    @Test func unknownTypesAreRefused() throws {
        var b = sample()
        b.tensors[0].type = 99
        try expectError(b.build()) { if case .unknownTensorType(_, "w", 99) = $0 { true } else { false } }
        var c = sample()
        c.metadata.append(("odd", 42, []))
        try expectError(c.build()) { if case .unknownValueType(_, "odd", 42) = $0 { true } else { false } }
    }

    @Test(.enabled(if: ggufVocabAvailable, "../shared/fixtures/gguf-vocab is not beside the checkout"))
    func readsTheVocabularyFiles() throws {
        let file = try GGUFFile(path: ggufVocabDirectory + "/ggml-vocab-llama-bpe.gguf")
        #expect(file.metadata["tokenizer.ggml.model"]?.string == "gpt2")
        #expect(file.metadata["tokenizer.ggml.tokens"]?.array?.count == 128256)
    }
}

extension GGUFError {
    var fileName: String {
        switch self {
        case .cannotOpen(let f, _), .badMagic(let f), .unsupportedVersion(let f, _), .truncated(let f, _), .invalidValue(let f, _, _),
             .unknownValueType(let f, _, _), .unknownTensorType(let f, _, _), .invalidTensor(let f, _, _), .tensorOutOfRange(let f, _),
             .missingKey(let f, _), .missingTensor(let f, _), .unsupportedTensorType(let f, _, _): f
        }
    }
}
