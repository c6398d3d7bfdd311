"""What a static check sees of the file being walked, and how it reports."""
from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from nanlint.config import Settings
from nanlint.findings import Fix, Severity
from nanlint.source.facts import FileFacts
from nanlint.source.names import Scope
from nanlint.source.values import Binding, Value, ValueAnalyzer


@dataclass(frozen=True)
class Report:
    """A finding before positions are known: positions are computed once, at the end."""

    code: str
    node: cst.CSTNode
    fields: dict[str, object]
    severity: Severity | None
    fix: Fix | None
    detail: str | None


class FileContext:
    def __init__(self, path: str, module: cst.Module, settings: Settings, enabled: frozenset[str]) -> None:
        self.path = path
        self.enabled = enabled
        self.module = module
        self.settings = settings
        self.facts = FileFacts()
        self.values = ValueAnalyzer(Scope(None, "module"))
        # The nodes from the module down to the node being visited (inclusive).
        self.ancestors: list[cst.CSTNode] = []
        # Enclosing class and function definitions, innermost last.
        self.classes: list[cst.ClassDef] = []
        self.functions: list[cst.FunctionDef | cst.Lambda] = []
        self.reports: list[Report] = []
        # ids of nodes a more specific finding already explains (a `log` inside a
        # `torch.where` trap is NAN501's): the general checks skip them, one hazard one finding.
        self.explained: set[int] = set()
        # The node whose visit hooks are running (set by the walk). Nothing rebinds a
        # name while they run, so the names they ask for are resolved once per visit:
        # every check's visit_Call names the call (and often its callee) it visits.
        self.visiting: cst.CSTNode | None = None
        self._named: tuple[cst.CSTNode, cst.Call, tuple[str | None, bool]] | None = None
        self._qualified: tuple[cst.CSTNode, cst.BaseExpression, str | None] | None = None

    @property
    def scope(self) -> Scope:
        return self.values.scope

    @property
    def precision(self) -> str:
        """fp32, bf16 or fp16; complete only in `finish`, once the whole file was seen."""
        return self.facts.precision(self.settings.precision)

    def value(self, node: cst.BaseExpression) -> Value:
        return self.values.value(node)

    def binding(self, name: str) -> Binding | None:
        return self.values.binding(name)

    def qualname(self, node: cst.BaseExpression) -> str | None:
        visiting = self.visiting
        if visiting is None:
            return self.values.qualname(node)
        known = self._qualified
        if known is not None and known[0] is visiting and known[1] is node:
            return known[2]
        name = self.values.qualname(node)
        self._qualified = (visiting, node, name)
        return name

    def call_name(self, node: cst.Call) -> tuple[str | None, bool]:
        visiting = self.visiting
        if visiting is None:
            return self.values.call_name(node)
        known = self._named
        if known is not None and known[0] is visiting and known[1] is node:
            return known[2]
        name = self.values.call_name(node)
        self._named = (visiting, node, name)
        return name

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def short_code(self, node: cst.CSTNode, limit: int = 60) -> str:
        """The node's source on one line, shortened for messages."""
        text = " ".join(self.code_for(node).split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def report(
        self,
        code: str,
        node: cst.CSTNode,
        *,
        severity: Severity | None = None,
        fix: Fix | None = None,
        detail: str | None = None,
        **fields: object,
    ) -> None:
        """Report `code` at `node`; `fields` fill the rule's message template.

        `detail` is the static evidence (what the analysis saw); the message says why it
        goes non-finite and what to write instead.
        """
        if code in self.enabled:
            self.reports.append(Report(code, node, fields, severity, fix, detail))
