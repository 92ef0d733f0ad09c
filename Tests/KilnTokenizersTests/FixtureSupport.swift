// Locating and reading the tokenizer fixtures: the tiny ones in Tests/Fixtures and the real
// ones packed in ../shared/fixtures/tokenizers, unpacked once per test run.

import Foundation
import KilnTokenizers

private let unpackFolder = FileManager.default.temporaryDirectory
    .appendingPathComponent("kiln-tokenizers-\(ProcessInfo.processInfo.processIdentifier)")

enum Fixtures {
    /// …/Tests/Fixtures, found from this file's path.
    static let tinyRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    static let tinyNames: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: tinyRoot.path)) ?? [])
        .filter { FileManager.default.fileExists(atPath: tinyRoot.appendingPathComponent($0).appendingPathComponent("tokenizer_reference.json").path) }
        .sorted()

    /// <package root>/../shared/fixtures/tokenizers.
    static let packedRoot: URL = tinyRoot.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/fixtures/tokenizers")

    static let realNames = ["gpt-2", "llama-bpe", "llama-spm"]

    static var realAvailable: Bool {
        realNames.allSatisfy { FileManager.default.fileExists(atPath: packedRoot.appendingPathComponent("\($0).tar.xz").path) }
    }

    /// The real tokenizers unpacked into a temporary folder, once per run (removed when the
    /// test process exits); nil when the packed files are absent or tar fails.
    static let realRoot: URL? = {
        guard realAvailable else { return nil }
        try? FileManager.default.createDirectory(at: unpackFolder, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: unpackFolder) }
        for name in realNames {
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            tar.arguments = ["tar", "xJf", packedRoot.appendingPathComponent("\(name).tar.xz").path, "-C", unpackFolder.path]
            guard (try? tar.run()) != nil else { return nil }
            tar.waitUntilExit()
            guard tar.terminationStatus == 0 else { return nil }
        }
        return unpackFolder
    }()

    static func directory(tiny name: String) -> String { tinyRoot.appendingPathComponent(name).path }

    static func directory(real name: String) -> String? { realRoot?.appendingPathComponent(name).path }
}

/// One `encode` case of a tokenizer_reference.json.
struct ReferenceCase: Sendable {
    let text: String
    let ids: [Int32]
    let idsNoSpecial: [Int32]
    let tokens: [String]?
    let decoded: String
    let decodedSkipSpecial: String
}

func referenceCases(directory: String) throws -> [ReferenceCase] {
    let data = try Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent("tokenizer_reference.json"))
    let json = try JSONValue.parse([UInt8](data))
    func ids(_ value: JSONValue?) -> [Int32] { (value?.array ?? []).map { Int32($0.int ?? -1) } }
    return (json["encode"]?.array ?? []).map { entry in
        ReferenceCase(text: entry["text"]?.string ?? "", ids: ids(entry["ids"]), idsNoSpecial: ids(entry["ids_no_special"]),
                      tokens: entry["tokens"]?.array?.map { $0.string ?? "" },
                      decoded: entry["decoded"]?.string ?? "", decodedSkipSpecial: entry["decoded_skip_special"]?.string ?? "")
    }
}

/// Tokenizers are loaded once per directory: the real ones take a moment in debug builds.
final class TokenizerCache: @unchecked Sendable {
    static let shared = TokenizerCache()
    private let lock = NSLock()
    private var loaded: [String: Tokenizer] = [:]

    func tokenizer(_ directory: String) throws -> Tokenizer {
        lock.lock()
        defer { lock.unlock() }
        if let tokenizer = loaded[directory] { return tokenizer }
        let tokenizer = try Tokenizer.load(directory: directory)
        loaded[directory] = tokenizer
        return tokenizer
    }
}

extension Fixtures {
    /// …/Tests/Fixtures/synthetic: small tokenizers made by Scripts/fixtures/make_synthetic_fixtures.py
    /// to cover components the model fixtures do not use.
    static let syntheticRoot: URL = tinyRoot.appendingPathComponent("synthetic")

    static let syntheticNames: [String] = (try? FileManager.default.contentsOfDirectory(atPath: syntheticRoot.path).sorted()) ?? []

    static func directory(synthetic name: String) -> String { syntheticRoot.appendingPathComponent(name).path }

    /// Every fixture folder that exists here, tiny, synthetic and real.
    static var allDirectories: [String] {
        tinyNames.map { directory(tiny: $0) } + syntheticNames.map { directory(synthetic: $0) } + realNames.compactMap { directory(real: $0) }
    }
}

extension String {
    var utf8Bytes: [UInt8] { Array(utf8) }
}
