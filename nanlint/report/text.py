"""`path:line:col: CODE message`, one finding a line, then a summary line."""
from __future__ import annotations

from nanlint.findings import Finding
from nanlint.report import RunSummary


def location(finding: Finding) -> str:
    if finding.cell is not None:
        return f"{finding.path}:cell {finding.cell}:{finding.line}:{finding.column}"
    return f"{finding.path}:{finding.line}:{finding.column}"


def render(summary: RunSummary) -> str:
    lines = []
    for finding in summary.findings:
        analyzers = "+".join(a.value for a in finding.analyzers)
        lines.append(f"{location(finding)}: {finding.code} {finding.message} [{analyzers}]")
        for evidence in finding.evidence:
            where = f" {evidence.module}" if evidence.module else ""
            lines.append(f"    {evidence.analyzer.value}{where}: {evidence.detail}")
    count = len(summary.findings)
    files = f"{summary.files} file{'s' if summary.files != 1 else ''}"
    if count:
        by_code = ", ".join(f"{code} x{n}" for code, n in summary.by_code().items())
        lines.append(f"Found {count} finding{'s' if count != 1 else ''} in {files} ({by_code}).")
    else:
        lines.append(f"No NaN/Inf hazards found in {files}.")
    return "\n".join(lines) + "\n"
