import KilnTokenizers
import Testing

@Suite struct JSONTests {
    @Test func objectsKeepFileOrder() throws {
        let value = try JSONValue.parse(#"{"z": 1, "a": [true, null, 2.5, "x"], "m": {"k": -3e2}}"#)
        #expect(value.object?.keys == ["z", "a", "m"])
        #expect(value["z"] == .int(1))
        #expect(value["a"] == .array([.bool(true), .null, .double(2.5), .string("x")]))
        #expect(value["m"]?["k"]?.double == -300)
        #expect(value.serialized() == #"{"z": 1, "a": [true, null, 2.5, "x"], "m": {"k": -300.0}}"#)
    }

    @Test func escapesAndUnicodeRoundTrip() throws {
        let value = try JSONValue.parse(#""tab\t quote\" slash\/ \u00e9 \ud83d\ude00 \u0001""#)
        #expect(value == .string("tab\t quote\" slash/ é 😀 \u{01}"))
        #expect(value.serialized() == #""tab\t quote\" slash/ é 😀 \u0001""#)
    }

    @Test func indentationFollowsPython() throws {
        let value = try JSONValue.parse(#"{"a": [1, {"b": []}]}"#)
        #expect(value.serialized(indent: 2) == "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ]\n}")
        #expect(pythonFloatRepresentation(1e-5) == "1e-05")
        #expect(pythonFloatRepresentation(3) == "3.0")
    }

    @Test func malformedDocumentsSayWhere() {
        for (text, line, column) in [("{\"a\": }", 1, 7), ("[1,\n 2,,]", 2, 4), ("\"open", 1, 6), ("01", 1, 3), ("{} x", 1, 4)] {
            #expect(throws: JSONError.self) { try JSONValue.parse(text) }
            do { _ = try JSONValue.parse(text) } catch {
                #expect(error.line == line && error.column == column, "\(text): \(error)")
            }
        }
    }
}
