// Generated from jinja2 3.1.6 configured like transformers (see the suite's comment).
// Each row: a template and what jinja2 renders with `UnitContext.variables`.

extension JinjaSemanticsTests {
    static let whitespace: [Expectation] = [
        .init("{% if true %}\nyes\n{% endif %}\nafter", "yes\nafter"),
        .init("  {% if true %}\n  yes\n  {% endif %}\n", "  yes\n"),
        .init("a  {% if true %}b{% endif %}", "a  b"),
        .init("  {{ 'x' }}\n  {% if true %}y{% endif %}", "  x\ny"),
        .init("x\n  {%+ if true %}y{% endif %}", "x\n  y"),
        .init("x\n  {% if true +%}\ny{% endif %}", "x\n\ny"),
        .init("a \n {%- if true -%} \n b \n {%- endif -%} \n c", "abc"),
        .init("a  {{- 'b' -}}  c", "abc"),
        .init("a\n{# comment #}\nb", "a\nb"),
        .init("a\n  {#- comment -#}\n  b", "ab"),
        .init("  {# c #}\nb", "b"),
        .init("{% raw %}{{ not evaluated }}{% endraw %}", "{{ not evaluated }}"),
        .init("  {% raw %}\n {{ x }}\n  {% endraw %}\nz", "\n {{ x }}\nz"),
        .init("{% for x in xs %}\n  {{ x }}\n{% endfor %}\n", "  1\n  2\n  3\n"),
        .init("line1\r\nline2\r\n", "line1\nline2"),
        .init("trailing\n\n", "trailing\n"),
        .init("{% if true %}  \t\n{% endif %}", "  \t\n"),
        .init("{{ 'a' }}\n{{ 'b' }}\n", "a\nb"),
        .init("\t{% set v = 1 %}\n{{ v }}", "1"),
        .init("{%- for m in msgs %}\n    {{- m.role }}: {{ m.content }}\n{% endfor %}", "user: hi\nassistant: yo\nuser: bye\n"),
        .init("a\n  {%- raw -%}\n  {{ x }}  \n  {%- endraw -%}\n  b", "a{{ x }}b"),
        .init("{{ 'v' -}}\n  {% if true %}x{% endif %}", "vx"),
        .init("{{ 'v' }}\n  {% if true %}x{% endif %}", "v\nx"),
        .init("{{ {'a': {'b': 1}} }}|{{ {'a': {'b': 1}}['a']['b'] }}", "{'a': {'b': 1}}|1"),
        .init("{% if false %}a{% elif true %}b{% else %}c{% endif %}", "b"),
        .init("\t \t{% if true %}tabs{% endif %}", "tabs"),
        .init("x　{%- if true %}y{% endif %}", "xy"),
        .init("{%\n  if\n  true\n%}\nmulti{% endif %}", "multi"),
        .init("{# c1 #}{# c2 #}\n{# c3 #}\n  text", "  text"),
        .init("{% if true %}a{% endif %}  \n  {% if true %}b{% endif %}", "a  \nb"),
        .init("{%- if true %}\n  {{- 'x' }}\n{%- endif %}\n", "x"),
        .init("<{% for x in xs %}{{ x }}{% if not loop.last %}, {% endif %}{% endfor %}>", "<1, 2, 3>"),
        .init("{% set v = 'a' %}{{ v }}{# trailing #}", "a"),
        .init("{% if true -%}   \n\n  x{%- endif %}", "x"),
    ]
    static let loops: [Expectation] = [
        .init("{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;"),
        .init("{% for x in xs %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}", "[|2][1|3][2|]"),
        .init("{% for x in xs if x != 2 %}{{ x }}{{ loop.length }}{% endfor %}", "1232"),
        .init("{% for x in [] %}no{% else %}empty{% endfor %}", "empty"),
        .init("{% for x in xs %}{% if x == 2 %}{% continue %}{% endif %}{{ x }}{% endfor %}", "13"),
        .init("{% for x in xs %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}", "1"),
        .init("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "b=2;a=1;c=[1, 2.5, None, True, 'x'];"),
        .init("{% for k in d %}{{ k }}{% endfor %}", "bac"),
        .init("{% for c in 'abc' %}{{ c }}-{% endfor %}", "a-b-c-"),
        .init("{% for a, b in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}", "37"),
        .init("{% for x in xs %}{% for y in xs %}{{ loop.index }}{% endfor %}|{{ loop.index }}{% endfor %}", "123|1123|2123|3"),
        .init("{% set x = 0 %}{% for i in xs %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}", "1230"),
        .init("{% for i in xs %}{% if loop.first %}{% set y = 5 %}{% endif %}{{ y }}.{% endfor %}", "5..."),
        .init("{% for x in xs %}{{ loop.cycle('odd', 'even') }}{% endfor %}", "oddevenodd"),
        .init("{% for x in undefined_thing %}x{% else %}none{% endfor %}", "none"),
        .init("{% for m in msgs if m.role == 'user' %}{{ m.content }}{{ loop.last }}{% endfor %}", "hiFalsebyeTrue"),
        .init("{% for x in range(3) %}{{ x }}{% endfor %}{% for x in range(1, 10, 3) %}{{ x }}{% endfor %}{{ range(5, 0, -2) | list }}", "012147[5, 3, 1]"),
        .init("{% for x in 5 %}{% endfor %}", fails: true),  // TypeError: 'int' object is not iterable
        .init("{% for a, b in xs %}{% endfor %}", fails: true),  // TypeError: cannot unpack non-iterable int object
    ]
    static let namespacesAndScopes: [Expectation] = [
        .init("{% set ns = namespace(count=0, found=false) %}{% for x in xs %}{% set ns.count = ns.count + x %}{% endfor %}{{ ns.count }}{{ ns.found }}", "6False"),
        .init("{% set ns = namespace() %}{% set ns.a = 'v' %}{{ ns.a }}{{ ns.missing }}", "v"),
        .init("{% set ns = namespace(a=1) %}{{ ns }}", "<Namespace {'a': 1}>"),
        .init("{% set a, b = 1, 2 %}{{ a }}{{ b }}", "12"),
        .init("{% set block_var %}inner {{ 1 + 1 }}{% endset %}[{{ block_var }}]", "[inner 2]"),
        .init("{% set block_var | upper %}shout{% endset %}{{ block_var }}", "SHOUT"),
        .init("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}", "3"),
        .init("{% if true %}{% set inner = 'kept' %}{% endif %}{{ inner }}", "kept"),
        .init("{% set x = 5 %}{% set x.y = 1 %}", fails: true),  // TemplateRuntimeError: cannot assign attribute on non-namespace object
        .init("{% filter upper %}quiet {{ 'words' }}{% endfilter %}", "QUIET WORDS"),
    ]
    static let macros: [Expectation] = [
        .init("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', '?') }} {{ greet(punct='.', name='C') }}", "Hi A! Hi B? Hi C."),
        .init("{% macro m(a, b=a * 2) %}{{ a }},{{ b }}{% endmacro %}{{ m(3) }}", "3,6"),
        .init("{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}", "[]"),
        .init("{% macro m() %}{{ varargs }}{% endmacro %}{{ m(1, 2) }}", "(1, 2)"),
        .init("{% macro m() %}{{ kwargs }}{% endmacro %}{{ m(k=1) }}", "{'k': 1}"),
        .init("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}", fails: true),  // TypeError: macro 'm' takes not more than 1 argument(s)
        .init("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(b=2) }}", fails: true),  // TypeError: macro 'm' takes no keyword argument 'b'
        .init("{% macro fact(n) %}{% if n <= 1 %}1{% else %}{{ n * fact(n - 1) | int }}{% endif %}{% endmacro %}{{ fact(5) }}", "120"),
        .init("{% macro m() %}{% set local = 1 %}{{ g }}{% endmacro %}{% set g = 'late' %}{{ m() }}{{ local }}", "late"),
        .init("{% macro m(x) -%}\n  <{{ x }}>\n{%- endmacro %}\n{{ m(1) }}|{{ m(2) | length }}", "<1>|3"),
    ]
    static let expressions: [Expectation] = [
        .init("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}", "7 9 3.5 3 -4 1 2 1024 0.5"),
        .init("{{ 1 + 2.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }} {{ 3.0 }} {{ 10 / 5 }} {{ 1_000 }}", "3.0 0.30000000000000004 1e+20 1.5e-07 3.0 2.0 1000"),
        .init("{{ 'ab' * 3 }} {{ 2 * 'x' }} {{ [1] * 2 }} {{ 'a' ~ 1 ~ none ~ true ~ 2.0 }} {{ 'a' + 'b' }} {{ [1] + [2] }}", "ababab xx [1, 1] a1NoneTrue2.0 ab [1, 2]"),
        .init("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' != 'b' }} {{ [1, 2] < [1, 3] }}", "True False True True True True"),
        .init("{{ 1 in xs }} {{ 5 not in xs }} {{ 'ell' in s }} {{ 'a' in d }} {{ 'z' in d }} {{ 'x' in undefined_thing }}", "True True True True False False"),
        .init("{{ true and 'yes' }} {{ false or 'fallback' }} {{ none or 0 }} {{ not [] }} {{ 0 and x.y }}", "yes fallback 0 True 0"),
        .init("{{ 'y' if t else 'n' }} {{ 'y' if nothing else 'n' }} [{{ 'only' if false }}]", "y n []"),
        .init("{{ xs[0] }} {{ xs[-1] }} {{ xs[1:] }} {{ xs[::-1] }} {{ xs[:-1] }} {{ xs[::2] }} {{ s[2:7] }} {{ 'abc'[::-1] }} {{ xs[5:] }}", "1 3 [2, 3] [3, 2, 1] [1, 2] [1, 3] Hello cba []"),
        .init("{{ d.a }} {{ d['b'] }} {{ d.c[1] }} {{ d.missing }} {{ xs[10] }} {{ nothing.attr }}", "1 2 2.5   "),
        .init("{{ d }} {{ xs }} {{ (1, 'a') }} {{ (1,) }} {{ none }} {{ true }} {{ ['it\\'s', \"q\\\"\"] }}", "{'b': 2, 'a': 1, 'c': [1, 2.5, None, True, 'x']} [1, 2, 3] (1, 'a') (1,) None True [\"it's\", 'q\"']"),
        .init("{{ 'tab\\tnew\\nline \\u00e9 \\x41' }}", "tab\tnew\nline é A"),
        .init("{{ \"con\" 'cat' }} {{ {'k': [1, {'n': none}]} }}", "concat {'k': [1, {'n': None}]}"),
        .init("{{ undefined_thing }}|{{ undefined_thing ~ 'x' }}|{{ undefined_thing | length }}", "|x|0"),
        .init("{{ undefined_thing.attr }}", fails: true),  // UndefinedError: 'undefined_thing' is undefined
        .init("{{ undefined_thing + 1 }}", fails: true),  // UndefinedError: 'undefined_thing' is undefined
        .init("{{ 1 / 0 }}", fails: true),  // ZeroDivisionError: division by zero
        .init("{{ 'a' + 1 }}", fails: true),  // TypeError: can only concatenate str (not "int") to str
        .init("{{ -n }} {{ +f }} {{ -n | abs }} {{ - 2 ** 2 }}", "-7 2.5 7 4"),
        .init("{{ d.items is defined }} {{ d['items'] is defined }} {{ d.keys is callable }}", "True True True"),
        .init("{{ xs.append(4) }}", fails: true),  // SecurityError: access to attribute 'append' of 'list' object is unsafe.
        .init("{{ 1 if true else 2 if false else 3 }} {{ [1, 2,] }} {{ {'a': 1,} }} {{ (1, 2,) }}", "1 [1, 2] {'a': 1} (1, 2)"),
        .init("{{ xs[0:2][1] }} {{ 'abc'[1:][0] }} {{ d.c[-3:][0] }} {{ msgs[1:][0].role }}", "2 b None assistant"),
        .init("{{ 'a' ~ xs | join }} {{ 'x' + 'y' | upper }} {{ -2 | abs }} {{ (xs | length) * 2 }}", "a123 xY 2 6"),
        .init("{{ 2 ** 3 ** 2 }} {{ 10 - 2 - 3 }} {{ 2 * 3 % 4 }} {{ not 1 == 2 }}", "64 5 2 True"),
        .init("{{ 7.0 // 2 }} {{ -7.5 % 2 }} {{ 1e16 }} {{ 9.5e15 }} {{ 123456789.123 }} {{ 0.0001 }} {{ 0.00001 }} {{ -0.0 }}", "3.0 0.5 1e+16 9500000000000000.0 123456789.123 0.0001 1e-05 -0.0"),
        .init("{{ nothing is none and nothing == none }} {{ undefined_thing == undefined_other }} {{ undefined_thing == none }}", "True True False"),
    ]
    static let methods: [Expectation] = [
        .init("[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxhixx'.strip('x') }}]", "[Hello World][Hello World  ][  Hello World][hi]"),
        .init("{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }}", "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b,c'] ['a,b', 'c']"),
        .init("{{ s.startswith('  He') }} {{ 'file.py'.endswith(('.py', '.txt')) }} {{ 'abc'.startswith('b') }}", "True True False"),
        .init("{{ 'hello world'.upper() }} {{ 'HeLLo'.lower() }} {{ 'hello wORLD'.title() }} {{ 'hello WORLD'.capitalize() }}", "HELLO WORLD hello Hello World Hello world"),
        .init("{{ 'aaa'.replace('a', 'b') }} {{ 'aaa'.replace('a', 'b', 2) }} {{ 'abcabc'.find('c') }} {{ 'abc'.find('z') }} {{ 'abcabc'.count('bc') }}", "bbb bba 2 -1 2"),
        .init("{{ ', '.join(['a', 'b']) }} {{ 'l1\\nl2\\r\\nl3'.splitlines() }} {{ '{} and {}'.format('x', 'y') }} {{ '{0}{name}'.format(1, name='n') }}", "a, b ['l1', 'l2', 'l3'] x and y 1n"),
        .init("{{ d.get('a') }} {{ d.get('zz') }} {{ d.get('zz', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }}", "1 None dflt ['b', 'a', 'c'] [2, 1, [1, 2.5, None, True, 'x']]"),
        .init("{{ xs.index(2) }} {{ [1, 1, 2].count(1) }}", "1 2"),
        .init("{{ '<think>a</think>\\n\\nanswer'.split('</think>')[-1].lstrip('\\n') }}", "answer"),
        .init("{{ '%s is %d' % ('x', 3) }} {{ 'abc'.isdigit() }} {{ '123'.isdigit() }}", "x is 3 False True"),
    ]
    static let filters: [Expectation] = [
        .init("[{{ s | trim }}] {{ 'x' | upper }} {{ 'X' | lower }} {{ 'hello big-world' | title }} {{ 'hELLO' | capitalize }}", "[Hello World] X x Hello Big-World Hello"),
        .init("{{ xs | length }} {{ 'héllo' | length }} {{ d | count }} {{ xs | first }} {{ xs | last }} {{ 'abc' | first }}", "3 5 3 1 3 a"),
        .init("{{ undefined_thing | default('dflt') }} {{ '' | default('dflt') }} {{ '' | default('dflt', true) }} {{ none | d('x') }} {{ 0 | d(5, boolean=true) }}", "dflt  dflt None 5"),
        .init("{{ xs | join(', ') }} {{ msgs | join('|', attribute='role') }} {{ [1, none, 'a'] | join }}", "1, 2, 3 user|assistant|user 1Nonea"),
        .init("{{ msgs | map(attribute='role') | list }} {{ xs | map('string') | list }} {{ ['a', 'b'] | map('upper') | join }}", "['user', 'assistant', 'user'] ['1', '2', '3'] AB"),
        .init("{{ xs | select('odd') | list }} {{ xs | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ xs | select('gt', 1) | list }}", "[1, 3] [2] [1, 'a'] [2, 3]"),
        .init("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('tool_calls') | list | length }} {{ msgs | selectattr('tool_calls', 'defined') | list | length }}", "['hi', 'bye'] 2 1"),
        .init("{{ d | items | list }} {{ xs | list }} {{ 'ab' | list }} {{ d | dictsort }} {{ d | dictsort(reverse=true) | first }}", "[('b', 2), ('a', 1), ('c', [1, 2.5, None, True, 'x'])] [1, 2, 3] ['a', 'b'] [('a', 1), ('b', 2), ('c', [1, 2.5, None, True, 'x'])] ('c', [1, 2.5, None, True, 'x'])"),
        .init("{{ 3 | string }} {{ '42' | int + 1 }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(9) }} {{ 4.9 | int }} {{ '2.5' | float }} {{ 3 | float }}", "3 43 4 0 9 4 2.5 3.0"),
        .init("{{ -3 | abs }} {{ 2.5 | round }} {{ 3.14159 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(method='floor') }} {{ 3 | round }}", "3 2.0 3.14 3.0 2.0 3"),
        .init("{{ 'aXbX' | replace('X', '-') }} {{ 'aaa' | replace('a', 'b', 1) }}", "a-b- baa"),
        .init("{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'a\\nb' | indent('> ') }}", "a\n    b\n\n    c|  a\n  b|a\n  \n  b|a\n> b"),
        .init("{{ [3, 1, 2, 1] | unique | list }} {{ words | unique | list }} {{ words | unique(case_sensitive=true) | list }}", "[3, 1, 2] ['b', 'A', 'C'] ['b', 'A', 'a', 'C']"),
        .init("{{ [3, 1, 2] | sort }} {{ words | sort }} {{ words | sort(case_sensitive=true) }} {{ xs | sort(reverse=true) }} {{ msgs | sort(attribute='content') | map(attribute='content') | list }}", "[1, 2, 3] ['A', 'a', 'b', 'C'] ['A', 'C', 'a', 'b'] [3, 2, 1] ['bye', 'hi', 'yo']"),
        .init("{{ xs | min }} {{ xs | max }} {{ words | min }} {{ words | max }} {{ xs | sum }} {{ [1.5, 2] | sum }} {{ [[1], [2]] | sum(start=[0]) }} {{ msgs | sum(attribute='content') if false else 'skip' }}", "1 3 A C 6 3.5 [0, 1, 2] skip"),
        .init("{{ xs | reverse | list }} {{ 'abc' | reverse }} {{ xs | batch(2) | list }} {{ xs | batch(2, 0) | list }}", "[3, 2, 1] cba [[1, 2], [3]] [[1, 2], [3, 0]]"),
        .init("{{ '<a href=\"x\">&\\'</a>' | e }} {{ '<b>' | safe }} {{ '<i>' | escape }}", "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt; <b> &lt;i&gt;"),
        .init("{{ 'one two  three' | wordcount }} {{ d | attr('a') }} {{ '%s-%s' | format(1, 2) }}", "3  1-2"),
        .init("{{ d | tojson }} {{ xs | tojson(indent=2) }} {{ d | tojson(sort_keys=true) }} {{ d | tojson(separators=(',', ':')) }}", "{\"b\": 2, \"a\": 1, \"c\": [1, 2.5, null, true, \"x\"]} [\n  1,\n  2,\n  3\n] {\"a\": 1, \"b\": 2, \"c\": [1, 2.5, null, true, \"x\"]} {\"b\":2,\"a\":1,\"c\":[1,2.5,null,true,\"x\"]}"),
        .init("{{ {'s': 'é<>&\\'\"\\n', 'f': 1.0, 'e': 1e-7, 't': (1, 2)} | tojson }} {{ 'é' | tojson(ensure_ascii=true) }} {{ none | tojson }}", "{\"s\": \"é<>&'\\\"\\n\", \"f\": 1.0, \"e\": 1e-07, \"t\": [1, 2]} \"\\u00e9\" null"),
        .init("{{ d | tojson(indent=2, separators=(', ', ': ')) }}", "{\n  \"b\": 2, \n  \"a\": 1, \n  \"c\": [\n    1, \n    2.5, \n    null, \n    true, \n    \"x\"\n  ]\n}"),
        .init("{{ undefined_thing | tojson }}", fails: true),  // TypeError: Object of type Undefined is not JSON serializable
        .init("{{ xs | length | string | length }} {{ [] | first }}", "1 "),
        .init("{{ ['a'] | sum(start='>') }}", fails: true),  // TypeError: sum() can't sum strings [use ''.join(seq) instead]
        .init("{{ xs | map('string') | join('-') }} {{ [[1, 2], [3]] | map('length') | list }} {{ ['a', 'bb'] | map('replace', 'b', 'c') | list }}", "1-2-3 [2, 1] ['a', 'cc']"),
        .init("{{ [' a ', 'b '] | map('trim') | list }} {{ ['x'] | map('tojson') | list }}", "['a', 'b'] ['\"x\"']"),
        .init("{{ msgs | map(attribute='missing', default='dflt') | list }} {{ msgs | map(attribute='content.0') | list }}", "['dflt', 'dflt', 'dflt'] ['h', 'y', 'b']"),
    ]
    static let tests: [Expectation] = [
        .init("{{ undefined_thing is defined }} {{ undefined_thing is undefined }} {{ xs is defined }} {{ nothing is none }} {{ nothing is not none }}", "False True True True False"),
        .init("{{ 'a' is string }} {{ 1 is number }} {{ t is number }} {{ 1 is integer }} {{ t is integer }} {{ 1.0 is float }} {{ 1 is float }} {{ t is boolean }}", "True True True True False True False True"),
        .init("{{ d is mapping }} {{ xs is mapping }} {{ xs is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ d is sequence }} {{ nothing is iterable }}", "True False True True False True False"),
        .init("{{ t is true }} {{ 1 is true }} {{ false is false }} {{ 0 is false }}", "True False True False"),
        .init("{{ 2 is even }} {{ 3 is odd }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ 'a' is eq 'a' }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 2 is gt 1 }} {{ 2 is ge 2 }} {{ 2 is le 1 }}", "True True True False True True True True True False"),
        .init("{{ 1 is in xs }} {{ 'x' is in 'xyz' }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ xs is sameas xs }} {{ range is callable }}", "True True True True True True"),
        .init("{{ msgs[1].tool_calls is defined and msgs[1].tool_calls is not none }} {{ msgs[0].tool_calls is defined }}", "True False"),
        .init("{{ d.c is iterable and d.c is not string and d.c is not mapping and d.c[0] is defined }}", "True"),
    ]
    static let globals: [Expectation] = [
        .init("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S') }}|{{ strftime_now('%B %d, %Y') }}|{{ strftime_now('%A %a %j %y %I%p %e') }}|{{ strftime_now('%-d/%-m %%') }}", "26 Jul 2024|2024-07-26 15:04:05|July 26, 2024|Friday Fri 208 24 03PM 26|26/7 %"),
        .init("{{ dict(a=1, b='x') }} {{ namespace(a=1).a }} {{ range(3) | list }}", "{'a': 1, 'b': 'x'} 1 [0, 1, 2]"),
        .init("{{ raise_exception('Custom failure: ' ~ 3) }}", raises: "Custom failure: 3"),
        .init("{% if xs | length > 2 %}{{ raise_exception('too many') }}{% endif %}after", raises: "too many"),
    ]
}
