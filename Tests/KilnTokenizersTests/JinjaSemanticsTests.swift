// jinja2 semantics, row by row: each template in JinjaSemanticsExpectations.swift must render
// exactly as jinja2 3.1.6 does in transformers' configuration (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols, json.dumps `tojson`, `raise_exception`, and
// `strftime_now` pinned to 2024-07-26 15:04:05), with the variables below.

import KilnTokenizers
import Testing

struct Expectation: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable {
        case text(String)
        /// `raise_exception` with this message.
        case raised(String)
        /// Any other error.
        case failure
    }

    let template: String
    let outcome: Outcome

    init(_ template: String, _ text: String) { self.template = template; outcome = .text(text) }
    init(_ template: String, raises message: String) { self.template = template; outcome = .raised(message) }
    init(_ template: String, fails: Bool) { self.template = template; outcome = .failure }

    var testDescription: String { template.debugDescription }
}

enum UnitContext {
    static let now = ChatTemplateDate(year: 2024, month: 7, day: 26, hour: 15, minute: 4, second: 5)

    static let variables: [String: JinjaValue] = {
        let json = try! JSONValue.parse(#"""
        {"xs": [1, 2, 3], "d": {"b": 2, "a": 1, "c": [1, 2.5, null, true, "x"]}, "s": "  Hello World  ",
         "msgs": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "tool_calls": [{"name": "f"}]},
                  {"role": "user", "content": "bye"}],
         "words": ["b", "A", "a", "C"], "n": 7, "f": 2.5, "t": true, "nothing": null}
        """#)
        var variables: [String: JinjaValue] = [:]
        for (key, value) in json.object!.members { variables[key] = JinjaValue(value) }
        return variables
    }()
}

@Suite struct JinjaSemanticsTests {
    func check(_ expectation: Expectation) {
        let result = Result { () throws(ChatTemplateError) in
            try ChatTemplate(expectation.template).render(UnitContext.variables, now: UnitContext.now)
        }
        switch (expectation.outcome, result) {
        case (.text(let expected), .success(let text)):
            #expect(text == expected)
        case (.raised(let expected), .failure(let error)):
            #expect(error == .raised(expected))
            #expect(error.description == expected)
        case (.failure, .failure(let error)):
            if case .raised = error { Issue.record("expected a template error, got raise_exception: \(error)") }
        case (_, .success(let text)):
            Issue.record("expected a failure, rendered \(text.debugDescription)")
        case (_, .failure(let error)):
            Issue.record("failed: \(error)")
        }
    }

    @Test(arguments: whitespace) func whitespaceControl(_ e: Expectation) { check(e) }
    @Test(arguments: loops) func loopsAndLoopVariables(_ e: Expectation) { check(e) }
    @Test(arguments: namespacesAndScopes) func namespacesAndScoping(_ e: Expectation) { check(e) }
    @Test(arguments: macros) func macroCalls(_ e: Expectation) { check(e) }
    @Test(arguments: expressions) func expressionEvaluation(_ e: Expectation) { check(e) }
    @Test(arguments: methods) func pythonMethods(_ e: Expectation) { check(e) }
    @Test(arguments: filters) func builtinFilters(_ e: Expectation) { check(e) }
    @Test(arguments: tests) func builtinTests(_ e: Expectation) { check(e) }
    @Test(arguments: globals) func globalFunctions(_ e: Expectation) { check(e) }
}
