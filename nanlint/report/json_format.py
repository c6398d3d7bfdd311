"""The stable, versioned JSON report (DESIGN.md section 4) for editors and CI."""
from __future__ import annotations

import json
from typing import Any

from nanlint.catalog import DOCS_URL
from nanlint.findings import Evidence, Finding, Fix
from nanlint.report import RunSummary

SCHEMA_VERSION = 1


def _evidence(evidence: Evidence) -> dict[str, Any]:
    item: dict[str, Any] = {"analyzer": evidence.analyzer.value, "detail": evidence.detail}
    if evidence.node is not None:
        item["node"] = evidence.node
    if evidence.module is not None:
        item["module"] = evidence.module
    item.update(evidence.extra)
    return item


def _fix(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    item: dict[str, Any] = {
        "description": fix.description,
        "replacement": fix.replacement,
        "applicability": "safe" if fix.safe else "unsafe",
    }
    if fix.span is not None:
        item.update(line=fix.span.line, column=fix.span.column, end_line=fix.span.end_line, end_column=fix.span.end_column)
    return item


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    item: dict[str, Any] = {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.value,
        "message": finding.message,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "end_line": finding.end_line,
        "end_column": finding.end_column,
        "evidence": [_evidence(e) for e in finding.evidence],
        "fix": _fix(finding.fix),
        "url": DOCS_URL.format(code=finding.code),
    }
    if finding.cell is not None:
        item["cell"] = finding.cell
    return item


def render(summary: RunSummary) -> str:
    document = {
        "version": SCHEMA_VERSION,
        "findings": [finding_to_dict(f) for f in summary.findings],
        "summary": {
            "files": summary.files,
            "targets": summary.targets,
            "findings": len(summary.findings),
            "by_code": summary.by_code(),
        },
    }
    if summary.errors:
        document["errors"] = summary.errors
    return json.dumps(document, indent=2) + "\n"
