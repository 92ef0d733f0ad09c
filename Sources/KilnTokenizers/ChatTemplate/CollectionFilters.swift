// The filters with more to them: sorting and ordering (Python's stable sort, ignoring case
// by default as jinja2 does), `unique`, `int`, `round` and `indent`.

extension Interpreter {
    /// jinja2's sort key: the attribute if one is named, lower-cased when it is a string and
    /// case does not count.
    private func sortKey(_ item: JinjaValue, attribute: JinjaValue?, caseSensitive: Bool) throws(ChatTemplateError) -> JinjaValue {
        var key = item
        if let attribute {
            key = try lookup(attribute, in: item)
        }
        if !caseSensitive, case .string(let s) = key { return .string(s.lowercased()) }
        return key
    }

    /// `items` ordered by `keys`, stably, as Python's `sorted`.
    private func stableSorted(_ items: [JinjaValue], keys: [JinjaValue], reverse: Bool) throws(ChatTemplateError) -> [JinjaValue] {
        var failureSeen: ChatTemplateError?
        let order = items.indices.sorted { a, b in
            do throws(ChatTemplateError) {
                let comparison = try pythonOrder(keys[a], keys[b], "<")
                if comparison != 0 { return reverse ? comparison > 0 : comparison < 0 }
            } catch {
                failureSeen = failureSeen ?? error
            }
            return a < b
        }
        if let failureSeen { throw failureSeen }
        return order.map { items[$0] }
    }

    func sortFilter(_ value: JinjaValue, _ bound: [JinjaValue?]) throws(ChatTemplateError) -> [JinjaValue] {
        let items = try elements(of: value)
        var keys: [JinjaValue] = []
        for item in items { keys.append(try sortKey(item, attribute: bound[2], caseSensitive: bound[1]?.isTruthy ?? false)) }
        return try stableSorted(items, keys: keys, reverse: bound[0]?.isTruthy ?? false)
    }

    func dictsort(_ value: JinjaValue, _ bound: [JinjaValue?]) throws(ChatTemplateError) -> [JinjaValue] {
        guard case .dict(let dict) = value else { throw failure("dictsort: can only sort a mapping") }
        let byValue: Bool
        switch bound[1] {
        case nil, .string("key")?: byValue = false
        case .string("value")?: byValue = true
        default: throw failure("You can only sort by either \"key\" or \"value\"")
        }
        let pairs = dict.members.map { JinjaValue.tuple([$0.key, $0.value]) }
        var keys: [JinjaValue] = []
        for member in dict.members {
            keys.append(try sortKey(byValue ? member.value : member.key, attribute: nil, caseSensitive: bound[0]?.isTruthy ?? false))
        }
        return try stableSorted(pairs, keys: keys, reverse: bound[2]?.isTruthy ?? false)
    }

    func unique(_ value: JinjaValue, _ bound: [JinjaValue?]) throws(ChatTemplateError) -> [JinjaValue] {
        var seen: [JinjaValue] = []
        var result: [JinjaValue] = []
        for item in try elements(of: value) {
            let key = try sortKey(item, attribute: bound[1], caseSensitive: bound[0]?.isTruthy ?? false)
            if !seen.contains(where: { pythonEquals($0, key) }) {
                seen.append(key)
                result.append(item)
            }
        }
        return result
    }

    /// `min` / `max`: the first smallest or largest item.
    func extreme(_ value: JinjaValue, isMax: Bool, _ bound: [JinjaValue?]) throws(ChatTemplateError) -> JinjaValue {
        let items = try elements(of: value)
        guard var best = items.first else { return .undefined("No aggregated item, sequence was empty.") }
        var bestKey = try sortKey(best, attribute: bound[1], caseSensitive: bound[0]?.isTruthy ?? false)
        for item in items.dropFirst() {
            let key = try sortKey(item, attribute: bound[1], caseSensitive: bound[0]?.isTruthy ?? false)
            let order = try pythonOrder(key, bestKey, isMax ? ">" : "<")
            if isMax ? order > 0 : order < 0 {
                best = item
                bestKey = key
            }
        }
        return best
    }

    /// jinja2's `int`: strings in `base`, floats truncated, `"42.23"` read as a float;
    /// anything else is the default.
    func toInt(_ value: JinjaValue, defaultValue: JinjaValue, base: Int) throws(ChatTemplateError) -> JinjaValue {
        switch value {
        case .int, .bool: return .int(value.integer!)
        case .double(let d):
            guard d.isFinite, abs(d) < 9.2e18 else { return defaultValue }
            return .int(Int(d))
        case .string(let s):
            var text = pythonStrip(s, chars: nil).replacing("_", with: "")
            if text.hasPrefix("+") { text.removeFirst() }
            if let i = Int(text, radix: base) { return .int(i) }
            if let d = Double(text), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
            return defaultValue
        default:
            return defaultValue
        }
    }

    func roundFilter(_ value: JinjaValue, _ bound: [JinjaValue?]) throws(ChatTemplateError) -> JinjaValue {
        let precision = bound[0]?.integer ?? 0
        let method = bound[1].map { string(of: $0) } ?? "common"
        guard ["common", "ceil", "floor"].contains(method) else { throw failure("method must be common, ceil or floor") }
        guard let number = value.number else { throw failure("type \(value.typeName) doesn't define __round__ method") }
        if method == "common", let i = value.integer, precision >= 0 { return .int(i) }
        var scale = 1.0
        for _ in 0..<abs(precision) { scale *= 10 }
        if precision < 0 { scale = 1 / scale }
        let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrEven
        if method == "common" && precision > 0 {
            return .double(Double(fixedPoint(number, digits: precision)) ?? number)
        }
        return .double((number * scale).rounded(rule) / scale)
    }

    /// jinja2 3.x `indent(width=4, first=False, blank=False)`; `width` may be a string.
    func indent(_ text: String, _ bound: [JinjaValue?]) throws(ChatTemplateError) -> String {
        let indentation: String
        switch bound[0] {
        case nil: indentation = "    "
        case .string(let s)?: indentation = s
        case let width?:
            guard let count = width.integer else { throw failure("indent width must be an integer or a string") }
            indentation = String(repeating: " ", count: max(0, count))
        }
        let lines = pythonSplitLines(text + "\n")
        var result: String
        if bound[2]?.isTruthy == true {
            result = lines.joined(separator: "\n" + indentation)
        } else {
            result = lines.first ?? ""
            let rest = lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }
            if !rest.isEmpty { result += "\n" + rest.joined(separator: "\n") }
        }
        return bound[1]?.isTruthy == true ? indentation + result : result
    }
}
