"""SARIF 2.1.0 for code-scanning services: every rule's metadata, one result a finding."""
from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from nanlint import __version__
from nanlint.catalog import RuleMeta, load_catalog
from nanlint.findings import Finding, Severity
from nanlint.report import RunSummary

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/nanlint/nanlint"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _rule(meta: RuleMeta) -> dict[str, Any]:
    return {
        "id": meta.code,
        "name": meta.name,
        "shortDescription": {"text": meta.summary},
        "fullDescription": {"text": meta.summary},
        "help": {"text": f"{meta.summary} See {meta.url}", "markdown": meta.body.strip()},
        "helpUri": meta.url,
        "defaultConfiguration": {"level": _LEVELS[meta.severity], "enabled": meta.default},
        "properties": {"analyzers": list(meta.analyzers), "fix": meta.fix},
    }


def _uri(path: str) -> dict[str, Any]:
    pure = PurePath(path)
    if pure.is_absolute():
        return {"uri": pure.as_uri()}
    return {"uri": pure.as_posix(), "uriBaseId": "%SRCROOT%"}


def _region(line: int, column: int, end_line: int, end_column: int) -> dict[str, int]:
    return {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column}


def _fixes(finding: Finding) -> list[dict[str, Any]]:
    if finding.fix is None:
        return []
    span = finding.fix.span or finding.span
    change = {
        "artifactLocation": _uri(finding.path),
        "replacements": [{
            "deletedRegion": _region(span.line, span.column, span.end_line, span.end_column),
            "insertedContent": {"text": finding.fix.replacement},
        }],
    }
    return [{"description": {"text": finding.fix.description}, "artifactChanges": [change]}]


def _result(finding: Finding, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": _uri(finding.path),
                "region": _region(finding.line, finding.column, finding.end_line, finding.end_column),
            }
        }],
        "properties": {
            "name": finding.name,
            "evidence": [{"analyzer": e.analyzer.value, "detail": e.detail} for e in finding.evidence],
        },
    }
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    if finding.cell is not None:  # SARIF has no notebook cells: lines are within this cell
        result["properties"]["cell"] = finding.cell
    fixes = _fixes(finding)
    if fixes:
        result["fixes"] = fixes
    return result


def render(summary: RunSummary) -> str:
    rules = list(load_catalog().values())
    index = {meta.code: position for position, meta in enumerate(rules)}
    run = {
        "tool": {"driver": {
            "name": "nanlint",
            "version": __version__,
            "informationUri": INFORMATION_URI,
            "rules": [_rule(meta) for meta in rules],
        }},
        "results": [_result(f, index) for f in summary.findings],
        "invocations": [{
            "executionSuccessful": not summary.errors,
            "toolExecutionNotifications": [{"level": "error", "message": {"text": e}} for e in summary.errors],
        }],
    }
    return json.dumps({"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"
