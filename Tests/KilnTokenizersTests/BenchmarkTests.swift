// Load time and encode throughput of the real tokenizers, printed rather than asserted:
// `KILN_TOKENIZER_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter BenchmarkTests`.

import Foundation
import KilnTokenizers
import Testing

@Suite struct BenchmarkTests {
    static let enabled = ProcessInfo.processInfo.environment["KILN_TOKENIZER_BENCH"] == "1" && Fixtures.realAvailable

    @Test(.enabled(if: enabled, "set KILN_TOKENIZER_BENCH=1 (and have ../shared/fixtures/tokenizers) to measure"))
    func loadTimeAndEncodeThroughput() throws {
        // ~2 MB of mixed text: every fixture string, plus this package's own source code.
        var corpus = ""
        for directory in Fixtures.allDirectories {
            for reference in try referenceCases(directory: directory) { corpus += reference.text + "\n" }
        }
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        for case let file as URL in FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)! where file.pathExtension == "swift" {
            corpus += try String(contentsOf: file, encoding: .utf8)
        }
        let unit = corpus
        while corpus.utf8.count < 2_000_000 { corpus += unit }
        let megabytes = Double(corpus.utf8.count) / 1_000_000

        for name in Fixtures.realNames {
            let directory = try #require(Fixtures.directory(real: name))
            let clock = ContinuousClock()
            var tokenizer: Tokenizer?
            let load = try clock.measure { tokenizer = try Tokenizer.load(directory: directory) }
            let t = try #require(tokenizer)
            var count = 0
            let encode = clock.measure { count = t.encode(corpus).count }
            let ids = t.encode(corpus)
            let decode = try clock.measure { _ = try t.decode(ids) }
            func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
            print(String(format: "BENCH %@: load %.3f s; encode %.2f MB in %.3f s = %.1f MB/s (%d tokens); decode %.3f s",
                         name, seconds(load), megabytes, seconds(encode), megabytes / seconds(encode), count, seconds(decode)))
        }
    }
}
