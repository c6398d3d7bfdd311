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
        # The node whose visit hooks are running (set by the walk), and the name of that
        # call once a check asked: every check's visit_Call names the call it visits.
        self.visiting: cst.CSTNode | None = None
        self._named: tuple[cst.Call, tuple[str | None, bool]] | None = None

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
        return self.values.qualname(node)

    def call_name(self, node: cst.Call) -> tuple[str | None, bool]:
        # Only within the visit of `node`: nothing rebinds a name while its hooks run.
        if node is self.visiting:
            named = self._named
            if named is not None and named[0] is node:
                return named[1]
            name = self.values.call_name(node)
            self._named = (node, name)
            return name
        return self.values.call_name(node)

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
