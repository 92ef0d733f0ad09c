// The interpreter against jinja2 itself on small templates (whitespace control, loops,
// scoping, macros, filters, tests, methods, Python printing), plus error reporting.

import KilnTokenizers
import Testing

@Suite struct JinjaSemanticsTests {
    static let context: [String: JinjaValue] = {
        guard case .object(let object)? = try? JSONValue.parse(jinjaSemanticsContext) else { return [:] }
        return Dictionary(object.members.map { ($0.key, JinjaValue($0.value)) }, uniquingKeysWith: { $1 })
    }()

    @Test(arguments: jinjaSemanticsCases.indices)
    func matchesJinja2(_ index: Int) {
        let testCase = jinjaSemanticsCases[index]
        let now = ChatTemplateDate(year: 2024, month: 7, day: 26, hour: 15, minute: 4, second: 5)
        let result = Result { () throws(ChatTemplateError) in try ChatTemplate(testCase.template).render(Self.context, now: now) }
        switch (result, testCase.text, testCase.error) {
        case (.success(let text), let expected?, _):
            #expect(text == expected, "\(testCase.template.debugDescription)")
        case (.failure(let error), nil, let message?):
            if !message.isEmpty { #expect(error == .raised(message)) }
        case (.success(let text), nil, _):
            Issue.record("\(testCase.template.debugDescription) should fail, rendered \(text.debugDescription)")
        case (.failure(let error), _, _):
            Issue.record("\(testCase.template.debugDescription) failed: \(error)")
        }
    }

    private func failure(_ template: String, _ variables: [String: JinjaValue] = [:]) -> String {
        do {
            _ = try ChatTemplate(template).render(variables)
            return "rendered"
        } catch {
            return error.description
        }
    }

    @Test func errorsNameTheLine() {
        #expect(failure("a\n\n{{ x | foo }}") == "line 3: unknown filter 'foo'")
        #expect(failure("{% for x in xs %}\n{{ x }}") == "line 2, column 8: 'for' opened on line 1 is never closed (expected 'else' or 'endfor')")
        #expect(failure("{% if a %}\n{% endfor %}") == "line 2, column 4: unknown tag 'endfor'")
        #expect(failure("\n{{ a.b }}") == "line 2: UndefinedError: 'a' is undefined")
        #expect(failure("{% for m in messages %}{% endfor %}", ["messages": .none]) == "line 1: TypeError: 'NoneType' object is not iterable")
        #expect(failure("{{ 1 +\n 'a' }}").hasPrefix("line 1: TypeError: unsupported operand"))
        #expect(failure("x {{ 'unterminated }}").hasPrefix("line 1, column 6: unterminated string"))
        #expect(failure("{{ raise_exception('Exact message.') }}") == "Exact message.")
    }

    @Test func raiseExceptionIsItsOwnCase() throws {
        let template = try ChatTemplate("{% if messages[0].role == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}")
        #expect(throws: ChatTemplateError.raised("System role not supported")) {
            try template.render(messages: [.object(JSONObject([("role", .string("system"))]))], addGenerationPrompt: false)
        }
    }

    @Test func toolsAndDocumentsArePassedAsNoneWhenAbsent() throws {
        let template = try ChatTemplate("{{ tools is defined }} {{ tools is none }} {{ documents is none }} {{ add_generation_prompt }} {{ bos_token }}")
        let text = try template.render(messages: [], addGenerationPrompt: true, variables: ["bos_token": .string("<s>")])
        #expect(text == "True True True True <s>")
        let withTools = try ChatTemplate("{{ tools | length }}").render(messages: [], tools: [.object(JSONObject())], addGenerationPrompt: false)
        #expect(withTools == "1")
    }

    @Test func strftimeFormatsThePinnedDate() throws {
        let template = try ChatTemplate("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%-d %B %Y, %A') }}")
        #expect(try template.render([:], now: ChatTemplateDate(year: 2024, month: 2, day: 5)) == "05 Feb 2024|5 February 2024, Monday")
        #expect(try template.render([:], now: ChatTemplateDate(year: 2000, month: 12, day: 31)) == "31 Dec 2000|31 December 2000, Sunday")
    }

    @Test func parsesOnceRendersMany() throws {
        let template = try ChatTemplate("{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}")
        #expect(try template.render(["xs": .array([.int(1), .int(2)])]) == "3")
        #expect(try template.render(["xs": .array([.int(5)])]) == "5")
    }
}
