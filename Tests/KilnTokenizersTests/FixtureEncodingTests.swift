// Every case of every fixture's tokenizer_reference.json: encode and decode must match the
// Rust `tokenizers` library's results exactly.

import Foundation
import KilnTokenizers
import Testing

private func checkReference(directory: String) throws {
    let tokenizer = try TokenizerCache.shared.tokenizer(directory)
    let cases = try referenceCases(directory: directory)
    #expect(!cases.isEmpty)
    for reference in cases {
        let text = reference.text.debugDescription
        #expect(tokenizer.encode(reference.text) == reference.ids, "ids of \(text)")
        #expect(tokenizer.encode(reference.text, addSpecialTokens: false) == reference.idsNoSpecial, "ids_no_special of \(text)")
        if let tokens = reference.tokens {
            #expect(try tokenizer.tokens(reference.idsNoSpecial).map(\.utf8Bytes) == tokens.map(\.utf8Bytes), "tokens of \(text)")
        }
        // Compared as bytes: Swift's `==` would accept a canonically equivalent spelling.
        #expect(try tokenizer.decode(reference.idsNoSpecial).utf8Bytes == reference.decoded.utf8Bytes, "decoded of \(text)")
        #expect(try tokenizer.decode(reference.ids, skipSpecialTokens: true).utf8Bytes == reference.decodedSkipSpecial.utf8Bytes,
                "decoded_skip_special of \(text)")
    }
}

@Suite struct FixtureEncodingTests {
    @Test func everyFixtureFolderIsPresent() {
        #expect(Fixtures.tinyNames.count == 8)
        #expect(Fixtures.syntheticNames.count == 5)
    }

    @Test(arguments: Fixtures.tinyNames)
    func tinyFixtureMatchesReference(_ name: String) throws {
        try checkReference(directory: Fixtures.directory(tiny: name))
    }

    @Test(arguments: Fixtures.syntheticNames)
    func syntheticFixtureMatchesReference(_ name: String) throws {
        try checkReference(directory: Fixtures.directory(synthetic: name))
    }

    // Skipped (not failed) where ../shared/fixtures/tokenizers is absent: those packs live
    // outside the package.
    @Test(.enabled(if: Fixtures.realAvailable, "../shared/fixtures/tokenizers/*.tar.xz is absent"), arguments: Fixtures.realNames)
    func realTokenizerMatchesReference(_ name: String) throws {
        let directory = try #require(Fixtures.directory(real: name), "unpacking \(name).tar.xz failed")
        try checkReference(directory: directory)
    }
}
