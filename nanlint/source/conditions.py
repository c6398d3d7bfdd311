"""What a `torch.where` condition says about a value in the branch it selects.

`torch.where(d == 0, 1, d)` is never 0, `torch.where(d > 0, n / d, 1.0)` divides only
where `d > 0`, and `torch.where(s > t, a, e / (e + 1))` with `e = exp(s)` keeps the ratio
only where `s <= t`: the author handled the bad domain, and the forward value is
finite. (The gradient of the discarded branch is another matter, NAN501's.) The condition is read
as the comparisons that hold wherever a branch is selected: those of a conjunction for
the first branch, the negated ones of a disjunction for the second, through a mask
variable's assignment one level back.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterator, Sequence

import libcst as cst

from nanlint.source.tree import children

if TYPE_CHECKING:
    from nanlint.source.values import ValueAnalyzer

_OPERATORS = {
    cst.GreaterThan: ">", cst.GreaterThanEqual: ">=", cst.LessThan: "<", cst.LessThanEqual: "<=",
    cst.Equal: "==", cst.NotEqual: "!=",
}
_COMPARISON_CALLS = {
    "gt": ">", "greater": ">", "ge": ">=", "greater_equal": ">=", "lt": "<", "less": "<",
    "le": "<=", "less_equal": "<=", "eq": "==", "ne": "!=", "not_equal": "!=",
}
FLIPPED = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}
_NEGATED = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
# Calls that do not change whether a value is 0.
_TRANSPARENT = frozenset({"abs", "float", "double", "half", "detach", "to", "type_as"})
_EMPTY_MODULE = cst.Module(body=())
# Conditions are read this many `&`/`|`/`~` levels deep; guards are written shallower.
_MAX_NESTING = 20


def where_branches(
    analyzer: ValueAnalyzer, call: cst.Call
) -> tuple[cst.BaseExpression, cst.BaseExpression | None, cst.BaseExpression | None] | None:
    """(condition, branch selected where it holds, branch selected where it does not) of
    `torch.where(c, a, b)` or `a.where(c, b)`; None for anything else."""
    name, is_method = analyzer.call_name(call)
    if name != "where":
        return None
    positional = [a.value for a in call.args if a.keyword is None and not a.star]
    keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
    if is_method:
        if len(positional) > 2:  # `ops.where(c, a, b)` is not a tensor's method
            return None
        condition = keywords.get("condition", positional[0] if positional else None)
        other = keywords.get("other", positional[1] if len(positional) > 1 else None)
        return (condition, call.func.value, other) if condition is not None else None  # type: ignore[attr-defined]
    if len(positional) < 1:
        return None
    first = keywords.get("input", positional[1] if len(positional) > 1 else None)
    second = keywords.get("other", positional[2] if len(positional) > 2 else None)
    return positional[0], first, second


def selecting_conditions(
    analyzer: ValueAnalyzer, ancestors: Sequence[cst.CSTNode]
) -> Iterator[tuple[cst.BaseExpression, bool]]:
    """(condition, selected when true?) of each `torch.where` whose branch holds the last
    of `ancestors` (the node being visited), within its statement."""
    path: list[cst.CSTNode] = [ancestors[-1]] if ancestors else []
    for ancestor in reversed(ancestors[:-1]):
        if isinstance(ancestor, (cst.BaseStatement, cst.BaseSmallStatement, cst.Lambda)):
            return
        if isinstance(ancestor, cst.Call):
            parts = where_branches(analyzer, ancestor)
            if parts is not None:
                for selected_when_true, branch in ((True, parts[1]), (False, parts[2])):
                    if branch is not None and any(step is branch for step in path):
                        yield parts[0], selected_when_true
        path.append(ancestor)


def bounded_above(
    analyzer: ValueAnalyzer, condition: cst.BaseExpression, subject: cst.BaseExpression, selected_when_true: bool
) -> bool:
    """Is `subject` below a finite threshold wherever the branch is selected? In
    `where(s > threshold, a, f(exp(s)))` the exp is kept only where `s <= threshold`. A
    threshold we cannot see is taken to be finite, as thresholds are."""
    target = compact_text(subject)
    for left, operator, right in _holding(analyzer, condition, selected_when_true, followed=False, nesting=0):
        if compact_text(left) == target and operator in ("<", "<="):
            threshold = analyzer.value(right)
        elif compact_text(right) == target and operator in (">", ">="):
            threshold = analyzer.value(left)
        else:
            continue
        if not threshold.known or threshold.hi < math.inf:
            return True
    return False


def facts(
    analyzer: ValueAnalyzer, condition: cst.BaseExpression, holds: bool
) -> list[tuple[cst.BaseExpression, str, cst.BaseExpression]]:
    """The comparisons (left, operator, right) true wherever `condition` is `holds`."""
    return list(_holding(analyzer, condition, holds, followed=False, nesting=0))


def excludes_zero(
    analyzer: ValueAnalyzer, condition: cst.BaseExpression, subject: cst.BaseExpression, selected_when_true: bool
) -> bool:
    """Is `subject` nonzero wherever the branch selected by `condition` (when it is true,
    or when it is false) is taken? `c > 2` keeps `c - 1`, `c - 2` and their product
    `(c - 1) ** 2 * (c - 2)` away from 0."""
    node = _transparent(analyzer, subject)
    factors = _factors(analyzer, node)
    if factors is not None:
        return all(excludes_zero(analyzer, condition, f, selected_when_true) for f in factors)
    constant = analyzer.value(node)
    if constant.number and constant.known and (constant.lo > 0 or constant.hi < 0):
        return True
    target, shifted = compact_text(node), _minus_constant(analyzer, node)
    for left, operator, right in facts(analyzer, condition, selected_when_true):
        a, b = compact_text(_transparent(analyzer, left)), compact_text(_transparent(analyzer, right))
        if target == f"{a}-{b}" or target == f"{b}-{a}":
            # `a op b` is `a - b op 0`
            low = high = 0.0
            operator = operator if target == f"{a}-{b}" else FLIPPED[operator]
        else:
            if b in (target, shifted[0]):
                left, right, operator, a = right, left, FLIPPED[operator], b
            if a not in (target, shifted[0]):
                continue
            threshold = analyzer.value(right)
            if not threshold.known:
                continue
            offset = shifted[1] if a != target else 0.0  # `c > 2` makes `c - 1` above 1
            low, high = threshold.lo - offset, threshold.hi - offset
        if _region_excludes_zero(operator, low, high):
            return True
    return False


def _factors(analyzer: ValueAnalyzer, node: cst.BaseExpression) -> list[cst.BaseExpression] | None:
    """The factors of a product or of an integer power (`x ** 2`, `x.square()`), else None."""
    if isinstance(node, cst.BinaryOperation):
        if isinstance(node.operator, cst.Multiply):
            return [node.left, node.right]
        if isinstance(node.operator, cst.Power) and _positive_integer(analyzer, node.right):
            return [node.left]
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        name = node.func.attr.value
        if name == "square" and not node.args:
            return [node.func.value]
        if name == "pow" and len(node.args) == 1 and _positive_integer(analyzer, node.args[0].value):
            return [node.func.value]
    return None


def _positive_integer(analyzer: ValueAnalyzer, node: cst.BaseExpression) -> bool:
    value = analyzer.value(node)
    return value.number and value.known and value.lo == value.hi and value.lo > 0 and float(value.lo).is_integer()


def _minus_constant(analyzer: ValueAnalyzer, node: cst.BaseExpression) -> tuple[str | None, float]:
    """(`c`, 1.0) for `c - 1`; (None, 0.0) for anything else."""
    node = _unparenthesized(node)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, (cst.Subtract, cst.Add)):
        k = analyzer.value(node.right)
        if k.number and k.known and k.lo == k.hi:
            sign = 1.0 if isinstance(node.operator, cst.Subtract) else -1.0
            return compact_text(_transparent(analyzer, node.left)), sign * k.lo
    return None, 0.0


def reads(scope: cst.CSTNode, name: str) -> Iterator[list[cst.CSTNode]]:
    """The path from `scope` down to each place that reads the variable `name` (not an
    assignment target, an attribute's name or a keyword)."""
    stack: list[list[cst.CSTNode]] = [[scope]]
    while stack:
        path = stack.pop()
        node = path[-1]
        if isinstance(node, cst.Name):
            parent = path[-2] if len(path) > 1 else None
            written_or_named = (
                isinstance(parent, cst.AssignTarget)
                or (isinstance(parent, cst.Attribute) and parent.attr is node)
                or (isinstance(parent, cst.Arg) and parent.keyword is node)
            )
            if node.value == name and not written_or_named:
                yield path
            continue
        stack.extend([*path, child] for child in children(node))


def _region_excludes_zero(operator: str, lo: float, hi: float) -> bool:
    """Does `subject <operator> t`, for every t in [lo, hi], rule out subject == 0?"""
    return {
        ">": lo >= 0,
        ">=": lo > 0,
        "<": hi <= 0,
        "<=": hi < 0,
        "!=": lo == hi == 0,
        "==": lo > 0 or hi < 0,
    }[operator]


def _holding(
    analyzer: ValueAnalyzer, node: cst.BaseExpression, polarity: bool, followed: bool, nesting: int
) -> Iterator[tuple[cst.BaseExpression, str, cst.BaseExpression]]:
    """The comparisons that hold where `node` is `polarity` (`followed`: a mask name was
    already read back once; generated conditions nested deeper than a guard are skipped)."""
    if nesting > _MAX_NESTING:
        return
    node = _unparenthesized(node)
    if isinstance(node, cst.Comparison):
        if len(node.comparisons) == 1 or polarity:  # a negated chain is a disjunction
            left = node.left
            for target in node.comparisons:
                operator = _OPERATORS.get(type(target.operator))
                if operator is not None:
                    yield left, operator if polarity else _NEGATED[operator], target.comparator
                left = target.comparator
    elif isinstance(node, (cst.BinaryOperation, cst.BooleanOperation)):
        conjunction = isinstance(node.operator, (cst.BitAnd, cst.And))
        disjunction = isinstance(node.operator, (cst.BitOr, cst.Or))
        if (conjunction and polarity) or (disjunction and not polarity):
            yield from _holding(analyzer, node.left, polarity, followed, nesting + 1)
            yield from _holding(analyzer, node.right, polarity, followed, nesting + 1)
    elif isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.BitInvert, cst.Not)):
        yield from _holding(analyzer, node.expression, not polarity, followed, nesting + 1)
    elif isinstance(node, cst.Call):
        name, is_method = analyzer.call_name(node)
        operator = _COMPARISON_CALLS.get(name or "")
        positional = [a.value for a in node.args if a.keyword is None and not a.star]
        operands = [node.func.value, *positional] if is_method else positional  # type: ignore[attr-defined]
        if operator is not None and len(operands) == 2:
            yield operands[0], operator if polarity else _NEGATED[operator], operands[1]
    elif isinstance(node, cst.Name) and not followed:
        bound = analyzer.binding(node.value)
        if bound is not None and bound.expr is not None:
            yield from _holding(analyzer, bound.expr, polarity, True, nesting + 1)


def _transparent(analyzer: ValueAnalyzer, node: cst.BaseExpression) -> cst.BaseExpression:
    """`x.abs()`, `torch.abs(x)`, `x.float()` are 0 where `x` is."""
    node = _unparenthesized(node)
    while isinstance(node, cst.Call):
        name, is_method = analyzer.call_name(node)
        if name not in _TRANSPARENT:
            break
        if is_method:
            node = _unparenthesized(node.func.value)  # type: ignore[attr-defined]
        elif node.args:
            node = _unparenthesized(node.args[0].value)
        else:
            break
    return node


def _unparenthesized(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.with_changes(lpar=(), rpar=()) if getattr(node, "lpar", None) else node


def compact_text(node: cst.BaseExpression) -> str:
    """The expression's source without whitespace or outer parentheses, to compare by."""
    return "".join(_EMPTY_MODULE.code_for_node(_unparenthesized(node)).split())
