import KilnRuntime
import Testing

@Suite struct SamplingValidationTests {
    /// Each bad value, and the field its error names (the OpenAI spelling).
    static let cases: [(SamplingParams, String)] = [
        (SamplingParams(temperature: -1), "temperature"),
        (SamplingParams(topK: -2), "top_k"),
        (SamplingParams(topP: 0), "top_p"),
        (SamplingParams(minP: 1.5), "min_p"),
        (SamplingParams(maxTokens: 0), "max_tokens"),
        (SamplingParams(repetitionPenalty: 0), "repetition_penalty"),
        (SamplingParams(presencePenalty: 2.5), "presence_penalty"),
        (SamplingParams(frequencyPenalty: -.nan), "frequency_penalty"),
        (SamplingParams(logitBias: [-1: 1]), "logit_bias"),
        (SamplingParams(logitBias: [3: 101]), "logit_bias"),
        (SamplingParams(maxTokens: 4, minTokens: 5), "min_tokens"),
        (SamplingParams(stopTokenIds: [-3]), "stop_token_ids"),
        (SamplingParams(stop: ["end", ""]), "stop"),
        (SamplingParams(n: 0), "n"),
        (SamplingParams(logprobs: 21), "logprobs"),
        (SamplingParams(beamWidth: 0), "beam_width"),
        (SamplingParams(lengthPenalty: .infinity), "length_penalty"),
        // what beam search does not combine with
        (SamplingParams(temperature: 0.7, beamWidth: 2), "temperature"),
        (SamplingParams(n: 3, beamWidth: 2), "n"),
        (SamplingParams(logprobs: 0, beamWidth: 2), "logprobs"),
        (SamplingParams(stop: ["\n"], beamWidth: 2), "stop"),
    ]

    @Test func everyFieldIsCheckedByName() {
        for (params, field) in Self.cases {
            #expect {
                try params.validate()
            } throws: { error in
                guard case .invalid(let named, _, _) = error as? SamplingError else { return false }
                return named == field
            }
        }
        #expect(throws: Never.self) {
            try SamplingParams(minP: 0.1, repetitionPenalty: 1.2, presencePenalty: -2, frequencyPenalty: 2, logitBias: [5: -100],
                               minTokens: 16, stopTokenIds: [2], stop: ["\n\n"], n: 4, logprobs: 20).validate()
            try SamplingParams(repetitionPenalty: 1.2, minTokens: 2, stopTokenIds: [2], n: 4, beamWidth: 4, lengthPenalty: -0.5,
                               earlyStopping: .never).validate()
        }
    }

    @Test func tokenIdsAreCheckedAgainstTheVocabulary() {
        #expect(throws: SamplingError.invalid(field: "logit_bias", value: "10", expected: "a token id in 0..<10")) {
            try SamplingParams(logitBias: [10: 1]).validate(vocabularySize: 10)
        }
        #expect(throws: SamplingError.invalid(field: "stop_token_ids", value: "12", expected: "a token id in 0..<10")) {
            try SamplingParams(stopTokenIds: [12]).validate(vocabularySize: 10)
        }
    }
}
