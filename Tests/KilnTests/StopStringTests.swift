// Stop strings: the matcher over streamed pieces, and generation on a fixture model ending at
// a string that spans two tokens, trimmed, in the generator and the batcher alike.

import Kiln
import KilnRuntime
import KilnTokenizers
import Testing

@Suite struct StopStringMatcherTests {
    @Test func aMatchAcrossPiecesIsTrimmed() {
        var matcher = StopStringMatcher(stops: ["STOP"])
        // "ST" might begin the stop string: held back until the next piece settles it
        #expect(matcher.append("hello ST") == ("hello ", false))
        #expect(matcher.append("OP and more") == ("", true))
    }

    @Test func heldTextIsReleasedWhenItTurnsOutOtherwise() {
        var matcher = StopStringMatcher(stops: ["STOP"])
        #expect(matcher.append("a S") == ("a ", false))
        #expect(matcher.append("x") == ("Sx", false))
        #expect(matcher.append("ends ST") == ("ends ", false))
        #expect(matcher.finish() == "ST")
    }

    @Test func theEarliestMatchWins() {
        var matcher = StopStringMatcher(stops: ["cd", "bc"])
        #expect(matcher.append("abcd") == ("a", true))
    }

    @Test func beforeMinTokensMatchesEndNothingButALaterOneCounts() {
        var matcher = StopStringMatcher(stops: ["STOP"])
        #expect(matcher.append("xSTOPy", canStop: false) == ("xSTOPy", false))
        #expect(matcher.append("ST", canStop: false) == ("", false))
        #expect(matcher.append("OP!", canStop: true) == ("", true))
    }
}

@Suite struct StopStringGenerationTests {
    let options = BuildOptions(maxSequenceLength: 512)

    /// A two-token stop string from the free-running text: the last two characters of one
    /// token's text and the first two of the next, whose first occurrence spans them; with
    /// the number of tokens that completes it and the text before it.
    func stopSpanningTwoTokens(_ outputIds: [Int32], tokenizer: Tokenizer) throws -> (stop: String, tokens: Int, text: String) {
        let texts = try (0...outputIds.count).map { Array(try tokenizer.decode(Array(outputIds.prefix($0)), skipSpecialTokens: true).unicodeScalars) }
        for k in 2...outputIds.count where texts[k].starts(with: texts[k - 1]) && texts[k - 1].starts(with: texts[k - 2]) {
            let before = texts[k - 1].count, added = texts[k].count - before
            guard before - texts[k - 2].count >= 2 && added >= 2 else { continue }
            let stop = Array(texts[k][(before - 2)..<(before + 2)])
            let full = texts[outputIds.count]
            let start = (0...(full.count - 4)).first { full[$0..<($0 + 4)].elementsEqual(stop) }!
            // the first occurrence is this one: it begins in token k − 1 and ends in token k
            guard start == before - 2 else { continue }
            return (string(stop), k, string(Array(full[..<start])))
        }
        throw StopTestError.noSpanningPair
    }

    enum StopTestError: Error { case noSpanningPair }

    func string(_ scalars: [Unicode.Scalar]) -> String { String(String.UnicodeScalarView(scalars)) }

    @Test func aStopStringAcrossTwoTokensEndsAndIsTrimmed() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let tokenizer = try llm.requireTokenizer()
        let prompt = tokenizer.encode("The license grants you the right to")
        let free = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 32, ignoreEOS: true))
        #expect(free.completions[0].text == (try tokenizer.decode(free.outputIds, skipSpecialTokens: true)))
        let expected = try stopSpanningTwoTokens(free.outputIds, tokenizer: tokenizer)
        let params = SamplingParams(maxTokens: 32, ignoreEOS: true, stop: ["no such text", expected.stop])

        var streamed = ""
        let stopped = try llm.generate(prompt: prompt, params) { token in
            streamed += token.text
            return true
        }
        #expect(stopped.finishReason == .stop)
        #expect(stopped.outputIds == Array(free.outputIds.prefix(expected.tokens)))
        #expect(stopped.completions[0].text == expected.text)
        #expect(streamed == expected.text)

        let batching = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let batcher = InFlightBatcher(executable: batching.executable, eosTokenIds: [], text: batching.executor.text)
        let id = try batcher.submit(prompt: prompt, params)
        let batched = try #require(try batcher.runUntilIdle()[id])
        #expect(batched.outputIds == stopped.outputIds && batched.finishReason == .stop)
        #expect(batched.completions[0].text == expected.text)
    }

    @Test func stopStringsWaitForMinTokens() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let tokenizer = try llm.requireTokenizer()
        let prompt = tokenizer.encode("The license grants you the right to")
        let free = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 32, ignoreEOS: true))
        let expected = try stopSpanningTwoTokens(free.outputIds, tokenizer: tokenizer)
        // min tokens past the match: the string no longer ends the text there
        let late = try llm.generate(prompt: prompt, SamplingParams(maxTokens: 32, ignoreEOS: true, minTokens: expected.tokens, stop: [expected.stop]))
        #expect(late.outputIds.count > expected.tokens)
        #expect(late.completions[0].text.map { $0.count > expected.text.count + expected.stop.count } == true)
    }

    @Test func stopStringsWithoutATokenizerAreRefused() throws {
        let llm = try LLM(model: fixturesDirectory + "/llama-gqa", options: options)
        let idsOnly = Executor(executable: llm.executable, eosTokenIds: [])
        defer { idsOnly.shutdown() }
        #expect(throws: GenerationError.stopStringsNeedTokenizer) {
            try idsOnly.generate(prompt: [1, 2], SamplingParams(stop: ["x"]))
        }
    }
}
