"""Suppression comments, per-file-ignores, and NAN003 for a comment that suppresses nothing.

Forms (codes are exact, comma- or space-separated):
    x / d  # noqa: NAN101            the line (flake8's form; other tools' codes are left alone)
    x / d  # nanlint: ignore[NAN101]   the line
    x / d  # nanlint: ignore          every code on the line
    # nanlint: ignore-file[NAN301]     the whole file (anywhere in it)

A comment applies to a finding that starts or ends on its line. A bare `# noqa` also
silences nanlint but is never reported unused: it belongs to every tool. Static
findings are suppressed per file (`suppress_file`, which only needs the file's text);
graph findings after the merge (`suppress_mapped`), by the comment on the source line
they map to.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from nanlint.catalog import load_catalog
from nanlint.config import Settings
from nanlint.findings import Analyzer, Evidence, Finding, Fix, Span

UNUSED = "NAN003"
_CODE = r"[A-Z]+[0-9]+"
_CODES = rf"{_CODE}(?:[\s,]+{_CODE})*"
_DIRECTIVE = re.compile(
    rf"#\s*(?:(?P<noqa>noqa)(?::\s*(?P<noqa_codes>{_CODES}))?"
    rf"|nanlint:\s*(?P<kind>ignore-file|ignore)(?:\[(?P<codes>[^\]]*)\])?)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Directive:
    """One suppression comment: where its text is, and what it silences."""

    line: int
    column: int  # 1-based column of the directive's `#`
    text: str
    # The codes it names; None silences every code.
    codes: tuple[str, ...] | None
    file_level: bool
    # A bare `# noqa` is every tool's: never reported unused.
    shared: bool
    # For the NAN003 fix: the text before the code list, every code as written (other
    # tools' too), the whitespace before the `#`, and whether the directive ends the line.
    head: str = ""
    listed: tuple[str, ...] = ()
    gap: int = 0
    ends_line: bool = True

    def covers(self, finding: Finding) -> bool:
        if not self.file_level and self.line not in (finding.line, finding.end_line):
            return False
        return self.codes is None or finding.code in self.codes

    @property
    def span(self) -> Span:
        return Span(self.line, self.column, self.line, self.column + len(self.text))


# Strings and comments in one left-to-right pass of the regex engine, so that a `#`
# inside a string is not taken for a comment. Python's `tokenize` does the same job at
# about 80 ms for a large file on 3.11 (more than parsing it); this is under a millisecond.
_STRING_OR_COMMENT = re.compile(
    # (String prefixes need no matching: `r"\""` skips like `"\""`.)
    r"(?P<string>(?:"
    r'"""[^"\\]*(?:(?:\\.|"(?!""))[^"\\]*)*"""'
    r"|'''[^'\\]*(?:(?:\\.|'(?!''))[^'\\]*)*'''"
    r'|"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
    r"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'"
    r"))|(?P<comment>#[^\r\n]*)",
    re.DOTALL,
)


def find_directives(text: str) -> list[Directive]:
    """Every suppression comment of a file; free for the files that have none."""
    if "noqa" not in text and "nanlint:" not in text and "NOQA" not in text:
        return []
    directives = []
    line, line_start = 1, 0
    # Scanning stops after the last marker.
    last = max(text.rfind("noqa"), text.rfind("nanlint:"), text.rfind("NOQA"))
    for match in _STRING_OR_COMMENT.finditer(text):
        if match.start() > last:
            break
        comment = match.group("comment")
        if comment is None or ("noqa" not in comment and "nanlint:" not in comment and "NOQA" not in comment):
            continue
        start = match.start()
        line += text.count("\n", line_start, start)
        line_start = text.rfind("\n", 0, start) + 1
        end = text.find("\n", start)
        physical = text[line_start: end if end >= 0 else len(text)]
        directives.extend(_parse_comment(comment, line, start - line_start, physical))
    return directives


def _parse_comment(comment: str, line: int, offset: int, physical: str) -> Iterable[Directive]:
    for match in _DIRECTIVE.finditer(comment):
        start = offset + match.start()
        before = physical[:start]
        layout = {
            "gap": len(before) - len(before.rstrip()),
            "ends_line": not physical[offset + match.end():].strip(),
        }
        group = "noqa_codes" if match.group("noqa") else "codes"
        written = match.group(group)
        listed = tuple(c for c in re.split(r"[\s,]+", written.upper()) if c) if written is not None else ()
        head = match.group()[: match.start(group) - match.start()] if written is not None else match.group()
        if match.group("noqa"):
            if written is None:
                yield Directive(line, start + 1, match.group(), None, False, shared=True, **layout)
                continue
            ours = tuple(c for c in listed if c.startswith("NAN"))
            if ours:  # `# noqa: E501` is another tool's business
                yield Directive(line, start + 1, match.group(), ours, False, False, head, listed, **layout)
        else:
            file_level = match.group("kind").lower() == "ignore-file"
            yield Directive(line, start + 1, match.group(), listed or None, file_level, False, head, listed, **layout)


def per_file_ignored(finding: Finding, settings: Settings) -> bool:
    return any(finding.code.startswith(prefix) for prefix in settings.ignored_in(finding.path))


def suppress_file(findings: list[Finding], text: str | None, path: str, settings: Settings) -> list[Finding]:
    """A file's findings less the suppressed ones, plus NAN003 for unused suppressions.

    Depends only on the file's text and the settings, so it belongs to the per-file unit
    of work (and its cache).
    """
    kept = [f for f in findings if not per_file_ignored(f, settings)]
    directives = find_directives(text) if text is not None else []
    if not directives:
        return kept
    remaining, used = _apply(kept, directives)
    if any(f.code == "NAN001" for f in findings):
        return remaining  # the file was not analysed: nothing can be judged unused
    unused = [
        finding
        for directive in directives
        if (finding := _unused_finding(directive, used.get(id(directive), set()), path, settings)) is not None
    ]
    # A NAN003 is silenced only by a comment naming NAN003 (`# noqa: NAN101, NAN003`),
    # never by the bare directive it reports.
    naming = [d for d in directives if d.codes is not None and UNUSED in d.codes]
    unused_kept, _ = _apply([f for f in unused if not per_file_ignored(f, settings)], naming)
    return sorted(remaining + unused_kept, key=Finding.sort_key)


def _apply(findings: list[Finding], directives: list[Directive]) -> tuple[list[Finding], dict[int, set[str]]]:
    """Findings no directive covers, and the codes each directive (by id) silenced."""
    by_line: dict[int, list[Directive]] = {}
    whole_file = [d for d in directives if d.file_level]
    for directive in directives:
        if not directive.file_level:
            by_line.setdefault(directive.line, []).append(directive)
    remaining: list[Finding] = []
    used: dict[int, set[str]] = {}
    for finding in findings:
        candidates = by_line.get(finding.line, []) + by_line.get(finding.end_line, []) + whole_file
        covering = [d for d in candidates if d.covers(finding)]
        for directive in covering:
            used.setdefault(id(directive), set()).add(finding.code)
        if not covering:
            remaining.append(finding)
    return remaining, used


def _judged(code: str, settings: Settings) -> bool:
    """Whether a static run can tell that `code` is unused: a rule the static analyzer runs."""
    meta = load_catalog().get(code)
    if meta is None:
        return True  # no such rule: it can only be a mistake
    return "static" in meta.analyzers and settings.enabled(code, meta.default)


def _unused_finding(directive: Directive, used: set[str], path: str, settings: Settings) -> Finding | None:
    if directive.shared or not settings.enabled(UNUSED, load_catalog()[UNUSED].default):
        return None
    if directive.codes is None:
        unused: tuple[str, ...] = () if used else ("",)
    else:
        unused = tuple(c for c in directive.codes if c not in used and _judged(c, settings))
    if not unused:
        return None
    return unused_suppression(directive, unused, path)


def unused_suppression(directive: Directive, unused: tuple[str, ...], path: str) -> Finding:
    meta = load_catalog()[UNUSED]
    where = "in this file" if directive.file_level else "on this line"
    unknown = [c for c in unused if c and c not in load_catalog()]
    known = [c for c in unused if c and c in load_catalog()]
    reasons = []
    if known or not unknown:
        reasons.append(f"no {', '.join(known)} finding {where}" if known else f"no finding {where}")
    if unknown:
        reasons.append(f"there is no rule {', '.join(unknown)}")
    why = "; ".join(reasons)
    span = directive.span
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.format_message(comment=directive.text, why=why),
        path=path,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        evidence=(Evidence(Analyzer.STATIC, f"unused: {', '.join(unused) or 'every code'}", extra={"unused": list(unused)}),),
        fix=_removal(directive, unused),
    )


def _removal(directive: Directive, unused: tuple[str, ...]) -> Fix:
    """Drop the unused codes from the comment, or the whole directive when none is left."""
    left = tuple(c for c in directive.listed if c not in unused)
    if left:
        closing = "]" if directive.text.endswith("]") else ""
        return Fix(f"keep only {', '.join(left)}", directive.head + ", ".join(left) + closing, safe=True)
    span = directive.span
    if not directive.ends_line:  # text follows in the comment: keep it a comment
        return Fix("remove the unused suppression", "#", safe=True)
    whole = Span(span.line, span.column - directive.gap, span.end_line, span.end_column)
    return Fix("remove the unused suppression", "", safe=True, span=whole)


def suppress_mapped(
    findings: list[Finding], settings: Settings, read_text: Callable[[str], str | None]
) -> list[Finding]:
    """After the merge: silence graph/runtime findings by the comment on their source line.

    Static findings were handled per file; a NAN003 there is withdrawn for the codes a
    graph finding turns out to use.
    """
    mapped = [f for f in findings if Analyzer.STATIC not in f.analyzers]
    if not mapped:
        return findings
    dropped: set[int] = set()
    used_by_path: dict[str, dict[tuple[int, int], set[str]]] = {}
    directives_by_path: dict[str, list[Directive]] = {}
    for finding in mapped:
        meta = load_catalog().get(finding.code)
        if (meta is not None and not settings.enabled(finding.code, meta.default)) or per_file_ignored(finding, settings):
            dropped.add(id(finding))
            continue
        if finding.path not in directives_by_path:
            text = read_text(finding.path)
            directives_by_path[finding.path] = find_directives(text) if text is not None else []
        covering = [d for d in directives_by_path[finding.path] if d.covers(finding)]
        for directive in covering:
            used_by_path.setdefault(finding.path, {}).setdefault((directive.line, directive.column), set()).add(finding.code)
        if covering:
            dropped.add(id(finding))
    result = []
    for finding in findings:
        if id(finding) in dropped:
            continue
        if finding.code == UNUSED and finding.path in used_by_path:
            finding = _withdraw(finding, used_by_path[finding.path], directives_by_path[finding.path])
            if finding is None:
                continue
        result.append(finding)
    return result


def _withdraw(finding: Finding, used: dict[tuple[int, int], set[str]], directives: list[Directive]) -> Finding | None:
    now_used = used.get((finding.line, finding.column))
    if not now_used:
        return finding
    directive = next(d for d in directives if (d.line, d.column) == (finding.line, finding.column))
    before = tuple(finding.evidence[0].extra.get("unused", ())) if finding.evidence else ()
    still = tuple(c for c in before if c and c not in now_used)
    if not still:
        return None
    return replace(unused_suppression(directive, still, finding.path), cell=finding.cell)
