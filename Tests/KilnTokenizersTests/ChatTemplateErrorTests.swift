// Errors name their line (and for syntax, the column) and the construct; raise_exception's
// message comes back verbatim and distinguishable.

import KilnTokenizers
import Testing

@Suite struct ChatTemplateErrorTests {
    func parseError(_ source: String) -> ChatTemplateError? {
        do {
            _ = try ChatTemplate(source)
            return nil
        } catch {
            return error
        }
    }

    func renderError(_ source: String, _ variables: [String: JinjaValue] = [:]) -> ChatTemplateError? {
        do {
            _ = try ChatTemplate(source).render(variables)
            return nil
        } catch {
            return error
        }
    }

    @Test func syntaxErrorsNameLineAndConstruct() {
        #expect(parseError("a\nb\n{{ x | foo }}")?.description == "line 3, column 8: unknown filter 'foo'")
        #expect(parseError("{% for x in xs %}{{ x }}")?.description == "line 1, column 25: expected 'endfor' to close 'for' opened on line 1")
        #expect(parseError("{% if a %}\n{% for x in xs %}\n{% endif %}")?.description == "line 3, column 4: unexpected 'endif'")
        #expect(parseError("{{ x is frobbed }}")?.description == "line 1, column 9: unknown test 'frobbed'")
        #expect(parseError("\n{% frobnicate %}")?.description == "line 2, column 4: unknown tag 'frobnicate'")
        #expect(parseError("{{ 'open }}")?.description == "line 1, column 4: unterminated string")
        #expect(parseError("x\n  {{ a + }}")?.description == "line 2, column 10: unexpected '}}'")
        #expect(parseError("{% break %}")?.description == "line 1, column 4: 'break' outside of a loop")
        #expect(parseError("{{ (1, 2 }}")?.description == "line 1, column 10: unexpected '}'")
        #expect(parseError("{% macro m(a=1, b) %}{% endmacro %}") != nil)
        if case .syntax(let line, let column, _)? = parseError("{% set %}") {
            #expect(line == 1 && column == 8)
        } else {
            Issue.record("expected a syntax error")
        }
    }

    @Test func runtimeErrorsNameTheirLine() {
        #expect(renderError("ok\n{{ missing.attr }}") == .runtime(line: 2, message: "'missing' is undefined"))
        #expect(renderError("\n\n{{ 1 // 0 }}") == .runtime(line: 3, message: "integer division or modulo by zero"))
        #expect(renderError("{% for x in n %}\n{% endfor %}", ["n": .int(3)]) == .runtime(line: 1, message: "'int' object is not iterable"))
        #expect(renderError("{% set ns = 1 %}\n{% set ns.a = 2 %}") == .runtime(line: 2, message: "cannot assign attribute on non-namespace object 'ns'"))
        #expect(renderError("{{ xs.append(1) }}", ["xs": .list([])]) == .runtime(line: 1, message: "access to attribute 'append' of 'list' object is unsafe."))
        #expect(renderError("{{ 'a' < 1 }}") == .runtime(line: 1, message: "'<' not supported between instances of 'str' and 'int'"))
        // jinja2 hits Python's recursion limit here (Hermes 3 does, given a type list like ["string", "null"]).
        #expect(renderError("{% macro f(t) %}{% for c in t %}{{ f(c) }}{% endfor %}{% endmacro %}\n{{ f('null') }}")
            == .runtime(line: 1, message: "maximum recursion depth exceeded in macro 'f'"))
    }

    @Test func raiseExceptionKeepsItsMessage() {
        let error = renderError("line one\n{{ raise_exception('Roles must alternate: ' ~ 2) }}")
        #expect(error == .raised("Roles must alternate: 2"))
        #expect(error?.description == "Roles must alternate: 2")
    }
}

@Suite struct ChatTemplateAPITests {
    @Test func jsonRoundTripsThroughValues() throws {
        let json = try JSONValue.parse(#"{"z": [1, 2.5, "s", null, true], "a": {"k": []}}"#)
        #expect(JinjaValue(json).json == json)
        #expect(JinjaValue.tuple([.int(1)]).json == .array([.int(1)]))
        #expect(JinjaValue.undefined("x").json == nil)
    }

    @Test func transformersVariables() throws {
        let template = try ChatTemplate("{{ bos_token }}{{ tools is none }}{{ documents is none }}{{ messages | length }}{{ add_generation_prompt }}")
        let text = try template.render(messages: [.object(JSONObject([("role", .string("user"))]))], addGenerationPrompt: true,
                                       variables: ["bos_token": .string("<s>"), "messages": .array([])])
        #expect(text == "<s>TrueTrue1True")
    }

    @Test func strftimeDefaultsToTheCurrentDate() throws {
        let year = try ChatTemplate("{{ strftime_now('%Y') }}").render([:])
        #expect(year.count == 4 && Int(year)! >= 2025)
        let pinned = try ChatTemplate("{{ strftime_now('%a %d %b %Y, %j') }}").render([:], now: ChatTemplateDate(year: 2024, month: 2, day: 29))
        #expect(pinned == "Thu 29 Feb 2024, 060")
    }
}
