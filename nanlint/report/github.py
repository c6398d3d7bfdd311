"""GitHub Actions workflow commands: one `::error file=...::message` annotation a finding."""
from __future__ import annotations

from nanlint.findings import Finding, Severity
from nanlint.report import RunSummary

_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    where = f"file={_property(finding.path)},line={finding.line},col={finding.column}"
    if finding.end_line == finding.line:
        where += f",endColumn={finding.end_column}"
    else:
        where += f",endLine={finding.end_line}"
    message = finding.message
    if finding.cell is not None:  # annotations cannot point into a notebook cell
        message = f"cell {finding.cell}, line {finding.line}: {message}"
    title = _property(f"{finding.code} {finding.name}")
    return f"::{_LEVELS[finding.severity]} {where},title={title}::{_data(message)}"


def render(summary: RunSummary) -> str:
    lines = [annotation(f) for f in summary.findings]
    lines.extend(f"::error title=nanlint::{_data(error)}" for error in summary.errors)
    return "".join(line + "\n" for line in lines)
