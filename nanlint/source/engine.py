"""The static analyzer: parse once, walk once, every check on the same walk.

Cost model (torch's own sources, one core, py-spy): the libcst parse is the floor; the
whole analysis (the walk through dataclass fields, see tree.py, every check's hooks,
the value analysis and the positions of reported nodes, see positions.py) costs about
15% of it, half of that the walk itself. libcst's own visitor would cost 60% and its
metadata providers 8-10x the parse. So the hot path is the parse.
"""
from __future__ import annotations

import ast
import math
import warnings
from dataclasses import replace
from typing import Callable, Iterable, Sequence

import libcst as cst

from nanlint.catalog import load_catalog
from nanlint.config import Settings
from nanlint.findings import Analyzer, Evidence, Finding, Span
from nanlint.source.context import FileContext, Report
from nanlint.source.names import Scope
from nanlint.source.nesting import MAX_DEPTH, SHALLOW, Nesting, deep_stack, deepest_line
from nanlint.source.positions import spans_of
from nanlint.source.rule import StaticRule
from nanlint.source.tree import children
from nanlint.source.values import (
    PERMUTATION,
    UNKNOWN,
    VALUES_AND_INDICES,
    Binding,
    hull,
    picks_one_column,
)

Hook = Callable[[cst.CSTNode], None]


class _Dispatch:
    """The hooks of every enabled check, by node class name, built once per file."""

    def __init__(self, checks: Sequence[StaticRule]) -> None:
        self.visit: dict[str, list[tuple[StaticRule, Hook]]] = {}
        self.leave: dict[str, list[tuple[StaticRule, Hook]]] = {}
        for check in checks:
            for hook in type(check).hooks():
                kind, _, node_type = hook.partition("_")
                table = self.visit if kind == "visit" else self.leave
                table.setdefault(node_type, []).append((check, getattr(check, hook)))


class _Walker:
    def __init__(self, ctx: FileContext, checks: Sequence[StaticRule]) -> None:
        self.ctx = ctx
        self.dispatch = _Dispatch(checks)
        self.failed: dict[int, tuple[StaticRule, BaseException, cst.CSTNode]] = {}

    def _call(self, hooks: list[tuple[StaticRule, Hook]], node: cst.CSTNode) -> None:
        for check, hook in hooks:
            if id(check) in self.failed:
                continue
            try:
                hook(node)
            except Exception as exc:  # one broken check must not stop the others
                self.failed[id(check)] = (check, exc, node)

    def run(self, module: cst.Module) -> None:
        # The loop runs once per node of the file (a third of the analysis time), so it
        # looks up every table once per node and only calls what listens to the node.
        ctx = self.ctx
        ancestors = ctx.ancestors
        visit, leave = self.dispatch.visit, self.dispatch.leave
        leaving_names = _ENGINE_LEAVES.union(leave)
        # (node, depth, leaving): leave entries are pushed only where someone listens.
        stack: list[tuple[cst.CSTNode, int, bool]] = [(module, 0, False)]
        pop, push = stack.pop, stack.append
        while stack:
            node, depth, leaving = pop()
            name = node.__class__.__name__
            if leaving:
                del ancestors[depth + 1:]
                hooks = leave.get(name)
                if hooks:
                    self._call(hooks, node)
                self._leave(node, name)
                continue
            del ancestors[depth:]
            ancestors.append(node)
            if name in _ENGINE_ENTERS:
                self._enter(node, name)
            hooks = visit.get(name)
            if hooks:
                ctx.visiting = node
                self._call(hooks, node)
                ctx.visiting = None
            if name in leaving_names:
                push((node, depth, True))
            below = children(node)
            if below:
                depth += 1
                for child in reversed(below):
                    push((child, depth, False))
        for check in list(self._live_checks()):
            try:
                check.finish()
            except Exception as exc:
                self.failed[id(check)] = (check, exc, module)

    def _live_checks(self) -> Iterable[StaticRule]:
        seen: dict[int, StaticRule] = {}
        for table in (self.dispatch.visit, self.dispatch.leave):
            for hooks in table.values():
                for check, _ in hooks:
                    seen.setdefault(id(check), check)
        return [c for key, c in seen.items() if key not in self.failed]

    # -- what the engine itself tracks: imports, scopes, bindings, file facts

    def _enter(self, node: cst.CSTNode, name: str) -> None:
        ctx = self.ctx
        if name == "Call":
            ctx.facts.observe_call(node, ctx.scope, ctx.ancestors)  # type: ignore[arg-type]
        elif name == "Attribute":
            ctx.facts.observe_attribute(node, ctx.scope, ctx.ancestors)  # type: ignore[arg-type]
        elif name in ("If", "While", "Assert"):
            _note_zero_checks(ctx, node.test)  # type: ignore[attr-defined]
        elif name in ("Import", "ImportFrom"):
            ctx.scope.add_import(node)  # type: ignore[arg-type]
        elif name in ("FunctionDef", "Lambda"):
            self._enter_function(node)  # type: ignore[arg-type]
        elif name == "ClassDef":
            ctx.values.scope = Scope(ctx.scope, "class")
            ctx.classes.append(node)  # type: ignore[arg-type]
        elif name == "For":
            _bind_target(ctx, node.target, None)  # type: ignore[attr-defined]
        elif name == "WithItem" and node.asname is not None:  # type: ignore[attr-defined]
            _bind_target(ctx, node.asname.name, None)  # type: ignore[attr-defined]

    def _enter_function(self, node: cst.FunctionDef | cst.Lambda) -> None:
        ctx = self.ctx
        params = node.params
        every = [*params.posonly_params, *params.params, *params.kwonly_params]
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                every.append(star)
        # A parameter holds whatever the caller passes: its default is one value among
        # many (`epsilon=0` may be called with 1e-8), so nothing is known about it.
        bound = {p.name.value: Binding(p.default, UNKNOWN) for p in every}
        ctx.values.scope = Scope(ctx.scope, "function")
        ctx.scope.bindings.update(bound)
        ctx.functions.append(node)

    def _leave(self, node: cst.CSTNode, name: str) -> None:
        ctx = self.ctx
        if name in ("FunctionDef", "Lambda", "ClassDef"):
            parent = ctx.scope.parent
            assert parent is not None
            ctx.values.scope = parent
            (ctx.classes if name == "ClassDef" else ctx.functions).pop()
        elif name == "Assign":
            for target in node.targets:  # type: ignore[attr-defined]
                _bind_target(ctx, target.target, node.value)  # type: ignore[attr-defined]
                _narrow_by_replacement(ctx, target.target, node.value)  # type: ignore[attr-defined]
                _note_spared_column(ctx, target.target, node.value)  # type: ignore[attr-defined]
        elif name == "AnnAssign" and node.value is not None:  # type: ignore[attr-defined]
            _bind_target(ctx, node.target, node.value)  # type: ignore[attr-defined]
        elif name == "AugAssign" and isinstance(node.target, cst.Name):  # type: ignore[attr-defined]
            # `x /= y` and friends: the new value is unknown to the analysis.
            ctx.scope.bindings[node.target.value] = Binding(None, UNKNOWN)  # type: ignore[attr-defined]
        elif name == "Expr":
            _bind_in_place(ctx, node.value)  # type: ignore[attr-defined]


_ENGINE_ENTERS = frozenset(
    {"Call", "Attribute", "If", "While", "Assert", "Import", "ImportFrom", "FunctionDef", "Lambda", "ClassDef", "For", "WithItem"}
)
_ENGINE_LEAVES = frozenset({"FunctionDef", "Lambda", "ClassDef", "Assign", "AnnAssign", "AugAssign", "Expr"})


def _bind_in_place(ctx: FileContext, call: cst.BaseExpression) -> None:
    """`x.clamp_(min=eps)` as a statement changes what the local `x` holds from here on."""
    if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Attribute):
        return
    receiver = call.func.value
    if (
        call.func.attr.value.endswith("_")
        and isinstance(receiver, cst.Name)
        and receiver.value in ctx.scope.bindings
    ):
        ctx.scope.bindings[receiver.value] = Binding(call, ctx.value(call))


def _note_zero_checks(ctx: FileContext, test: cst.BaseExpression) -> None:
    """`if union == 0: return` guards a later `x / union`: its author handled the zero.

    So do `if x.min() == 0: raise`, `if (x == 0).any(): ...` and a flag tested later
    (`exists = a > 0 and b > 0` ... `if exists: a / b`)."""
    for comparison in _comparisons(ctx, test):
        operands = [comparison.left, *(c.comparator for c in comparison.comparisons)]
        if any(isinstance(o, (cst.Integer, cst.Float)) and float(o.evaluated_value) == 0.0 for o in operands):
            for operand in operands:
                name = _tested_name(operand)
                if name is not None:
                    ctx.scope.zero_checked.add(name)
        name = _tolerance_tested(ctx, comparison)
        if name is not None:
            ctx.scope.zero_checked.add(name)


# Reductions that are 0 for an all-zero tensor: `x.abs().max() <= tolerance` catches it.
_ZERO_AT_ZERO = frozenset({"abs", "max", "amax", "sum", "mean", "norm"})


def _tolerance_tested(ctx: FileContext, comparison: cst.Comparison) -> str | None:
    """`x` in `if x.abs().max() <= tolerance_grad: return` (LBFGS): a reduction of `x`
    that is 0 when `x` is, tested against a tolerance that is not negative."""
    if len(comparison.comparisons) != 1:
        return None
    operator = comparison.comparisons[0].operator
    reduced, tolerance = comparison.left, comparison.comparisons[0].comparator
    if isinstance(operator, (cst.GreaterThan, cst.GreaterThanEqual)):
        reduced, tolerance = tolerance, reduced
    elif not isinstance(operator, (cst.LessThan, cst.LessThanEqual)):
        return None
    bound = ctx.value(tolerance)
    if bound.known and (bound.lo < 0 or (bound.lo == 0 and isinstance(operator, (cst.LessThan, cst.GreaterThan)))):
        return None  # `x.sum() < 0` does not catch x == 0
    calls = 0
    while isinstance(reduced, cst.Call) and isinstance(reduced.func, cst.Attribute) and reduced.func.attr.value in _ZERO_AT_ZERO:
        reduced, calls = reduced.func.value, calls + 1
    return reduced.value if calls and isinstance(reduced, cst.Name) else None


# `x.min() == 0` and `x.abs().amin() > 0` test `x` for zeros.
_ZERO_TESTS_OF = frozenset({"min", "amin", "abs", "float", "double", "item", "detach"})


def _narrow_by_replacement(ctx: FileContext, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
    """`std[std == 0] = 1`, `x[x.abs() < eps] = eps`, `df2[df2 <= 2] = nan`: the rest of
    the variable keeps the other side of the condition; a NaN fill marks the replaced
    region undefined on purpose (a moment that does not exist), so it is left out."""
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and len(target.slice) == 1):
        return
    index, name = target.slice[0].slice, target.value.value
    bound = ctx.binding(name)
    if not isinstance(index, cst.Index) or bound is None or not bound.value.known:
        return
    rest = ctx.values.narrowed(target.value, index.value, holds=False)
    if rest is bound.value:
        return  # the condition says nothing about the variable
    replacement = ctx.value(value)
    if not (replacement.number and math.isnan(replacement.lo)):
        rest = hull(rest, replacement) if replacement.known else replace(rest, known=False)
    ctx.scope.bindings[name] = Binding(bound.expr, replace(rest, tensor=bound.value.tensor, number=bound.value.number))


def _note_spared_column(ctx: FileContext, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
    """`remove[..., 0] = False` (top-p filtering keeps the most likely token): from here on
    the mask leaves a column of every row unmasked, so it never masks a whole row. Any
    other write of something that is not False may mask that column again."""
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name)):
        return
    name = target.value.value
    bound = ctx.binding(name)
    if bound is None or "mask" not in bound.value.tags:
        return
    clears = _is_false(value)
    if clears and picks_one_column(target):
        tags = bound.value.tags | {"spares_column"}
    elif not clears and "spares_column" in bound.value.tags:
        tags = bound.value.tags - {"spares_column"}
    else:
        return
    ctx.scope.bindings[name] = Binding(bound.expr, replace(bound.value, tags=tags))


def _is_false(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Name):
        return node.value == "False"
    return isinstance(node, (cst.Integer, cst.Float)) and float(node.evaluated_value) == 0.0


def _tested_name(operand: cst.BaseExpression) -> str | None:
    while isinstance(operand, cst.Call) and isinstance(operand.func, cst.Attribute) and operand.func.attr.value in _ZERO_TESTS_OF:
        operand = operand.func.value
    return operand.value if isinstance(operand, cst.Name) else None


def _comparisons(ctx: FileContext, test: cst.BaseExpression) -> list[cst.Comparison]:
    """The comparisons in a test, also inside calls (`(x == 0).any()`) and in the
    assignment of a flag it names (`if exists:`, `if not exists:`, one level back)."""
    found: list[cst.Comparison] = []
    # Iterative: generated `a and b and ...` chains nest thousands deep. `flag`: reached
    # through `and`/`or`/`not` only, so a name here is a flag whose assignment is read.
    pending: list[tuple[cst.BaseExpression, bool]] = [(test, True)]
    while pending:
        node, flag = pending.pop()
        if isinstance(node, cst.Comparison):
            found.append(node)
            pending += [(node.left, False), *((c.comparator, False) for c in node.comparisons)]
        elif isinstance(node, cst.BooleanOperation):
            pending += [(node.right, flag), (node.left, flag)]
        elif isinstance(node, cst.UnaryOperation):
            pending.append((node.expression, flag))
        elif isinstance(node, cst.Call):
            pending += [(a.value, False) for a in node.args]
            if isinstance(node.func, cst.Attribute):
                pending.append((node.func.value, False))
        elif isinstance(node, cst.Name) and flag:
            bound = ctx.binding(node.value)
            if bound is not None and bound.expr is not None:
                pending.append((bound.expr, False))
    return found


def _bind_target(ctx: FileContext, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
    if isinstance(target, cst.Name):
        ctx.scope.bindings[target.value] = Binding(value, ctx.value(value) if value is not None else UNKNOWN)
    elif isinstance(target, (cst.Tuple, cst.List)):
        values: Sequence[cst.BaseExpression | None]
        if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(target.elements):
            values = [e.value for e in value.elements]
        else:
            values = [None] * len(target.elements)
        for element, element_value in zip(target.elements, values):
            _bind_target(ctx, element.value, element_value)
        first = target.elements[0].value if target.elements else None
        called = ctx.call_name(value)[0] if isinstance(value, cst.Call) else None
        if called in VALUES_AND_INDICES and isinstance(first, cst.Name):
            # `values, indices = probs.topk(k)`: the values keep the range of `probs`.
            ctx.scope.bindings[first.value] = Binding(value, ctx.value(value))  # type: ignore[arg-type]
            indices = target.elements[1].value if len(target.elements) > 1 else None
            if called == "sort" and isinstance(indices, cst.Name):
                ctx.scope.bindings[indices.value] = Binding(None, PERMUTATION)


def _enabled_codes(settings: Settings) -> frozenset[str]:
    return frozenset(code for code, meta in load_catalog().items() if settings.enabled(code, meta.default))


def _syntax_error(path: str, source: str, error: cst.ParserSyntaxError) -> Finding:
    """NAN001 as and where Python reports it: libcst's message lists every token its
    grammar allows there, and often points a line late (`def f(:` is "error at 2:2")."""
    meta = load_catalog()["NAN001"]
    detail = error.message.removeprefix("parser error: ").strip()
    line, column, end_line, end_column = error.raw_line, error.raw_column + 1, error.raw_line, error.raw_column + 2
    python = _python_syntax_error(source)
    if python is None:
        reason = f"{detail} (Python parses this file, libcst does not: please report it)"
    elif python.lineno:
        reason = f"syntax error: {python.msg}"
        line, column = python.lineno, max(python.offset or 1, 1)
        end_line, end_column = line, column + 1
    else:  # Python cannot tell either: libcst's word
        reason = detail
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.format_message(reason=reason),
        path=path,
        line=line,
        column=column,
        end_line=end_line,
        end_column=end_column,
        evidence=(Evidence(Analyzer.STATIC, f"libcst: {detail}"),),
    )


def _python_syntax_error(source: str) -> SyntaxError | None:
    """Python's own SyntaxError for `source`, None when Python parses it."""
    if "\0" in source:  # Python 3.11 stops reading at a NUL, and would call the rest valid
        return SyntaxError("NUL byte")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its SyntaxWarnings (invalid escapes) are not ours to print
            ast.parse(source)
    except SyntaxError as error:
        return error
    except (RecursionError, MemoryError, ValueError) as error:
        return SyntaxError(str(error))
    return None


def _too_deep(path: str, nesting: Nesting) -> Finding:
    meta = load_catalog()["NAN001"]
    reason = (
        f"line {nesting.line} nests too deeply for nanlint's parser (an estimated {nesting.depth:,} levels "
        f"of brackets and operators; the limit is {MAX_DEPTH:,})"
    )
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.format_message(reason=reason),
        path=path,
        line=nesting.line,
        column=1,
        end_line=nesting.line,
        end_column=2,
        evidence=(Evidence(Analyzer.STATIC, reason),),
    )


def internal_error(path: str, rule_codes: str, exc: BaseException, span: Span | None = None) -> Finding:
    """NAN004: a check raised on this file; named so the user can report it and ignore it."""
    import logging  # here: only a failing check pays for them
    import traceback

    logging.getLogger("nanlint").debug("%s: rule %s raised (NAN004)", path, rule_codes, exc_info=exc)
    meta = load_catalog()["NAN004"]
    where = span or Span(1, 1, 1, 1)
    last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    origin = f" at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else ""
    return Finding(
        code=meta.code,
        name=meta.name,
        severity=meta.severity,
        message=meta.format_message(rule=rule_codes, error=f"{type(exc).__name__}: {exc}"),
        path=path,
        line=where.line,
        column=where.column,
        end_line=where.end_line,
        end_column=where.end_column,
        evidence=(Evidence(Analyzer.STATIC, f"{type(exc).__name__}{origin}: {exc}"),),
    )


def _to_finding(path: str, report: Report, span: Span) -> Finding:
    meta = load_catalog()[report.code]
    return Finding(
        code=report.code,
        name=meta.name,
        severity=report.severity or meta.severity,
        message=meta.format_message(**report.fields),
        path=path,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        evidence=(Evidence(Analyzer.STATIC, report.detail or meta.summary),),
        fix=report.fix,
    )


def analyze_module(
    module: cst.Module, path: str, settings: Settings, rules: Sequence[type[StaticRule]]
) -> list[Finding]:
    enabled = _enabled_codes(settings)
    ctx = FileContext(path, module, settings, enabled)
    checks = [rule(ctx) for rule in rules if enabled.intersection(rule.codes)]
    walker = _Walker(ctx, checks)
    walker.run(module)
    nodes = [r.node for r in ctx.reports] + [node for _, _, node in walker.failed.values()]
    spans = spans_of(module, nodes)
    fallback = Span(1, 1, 1, 1)
    findings = [_to_finding(path, r, spans.get(id(r.node), fallback)) for r in ctx.reports]
    for check, exc, node in walker.failed.values():
        findings.append(internal_error(path, "/".join(check.codes), exc, spans.get(id(node))))
    return findings


def parse(source: str) -> cst.Module:
    return cst.parse_module(source)


def analyze_source(
    source: str, path: str, settings: Settings, rules: Sequence[type[StaticRule]] | None = None
) -> list[Finding]:
    """Every static finding for one file's text. Raises nothing for bad Python."""
    if rules is None:
        from nanlint.source.checks import ALL_RULES

        rules = ALL_RULES
    nesting = deepest_line(source)
    if nesting.depth > MAX_DEPTH:  # libcst would take minutes, then overflow the C stack
        return [_too_deep(path, nesting)] if "NAN001" in _enabled_codes(settings) else []
    if nesting.depth > SHALLOW:
        return deep_stack(lambda: _parse_and_analyze(source, path, settings, rules))
    return _parse_and_analyze(source, path, settings, rules)


def _parse_and_analyze(source: str, path: str, settings: Settings, rules: Sequence[type[StaticRule]]) -> list[Finding]:
    try:
        module = parse(source)
    except cst.ParserSyntaxError as error:
        return [_syntax_error(path, source, error)] if "NAN001" in _enabled_codes(settings) else []
    return analyze_module(module, path, settings, rules)
