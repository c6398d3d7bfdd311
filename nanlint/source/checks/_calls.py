"""Small helpers the domain checks share to read a call's operands (no rules here)."""
from __future__ import annotations

from typing import Iterator

import libcst as cst

from nanlint.source.tree import children


def argument(call: cst.Call, index: int, keyword: str) -> cst.BaseExpression | None:
    """The argument passed as `keyword=` or at positional `index`, or None."""
    position = 0
    for arg in call.args:
        if arg.star:
            return None  # `f(*args)`: positions are unknown from here on
        if arg.keyword is not None:
            if arg.keyword.value == keyword:
                return arg.value
            continue
        if position == index:
            return arg.value
        position += 1
    return None


def keyword(call: cst.Call, name: str) -> cst.BaseExpression | None:
    """The value of a keyword-only argument, or None."""
    return next((a.value for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def operand(call: cst.Call, is_method: bool) -> cst.BaseExpression | None:
    """The tensor a unary op applies to: the receiver of `x.log()`, `input` of `torch.log(x)`."""
    if is_method:
        return call.func.value  # type: ignore[attr-defined]
    return argument(call, 0, "input")


def second(call: cst.Call, is_method: bool, keyword: str) -> cst.BaseExpression | None:
    """The second operand: `y` in `x.pow(y)` and in `torch.pow(x, y)`."""
    return argument(call, 0 if is_method else 1, keyword)


def subexpressions(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """`node` and every node below it but tokens, in source order, not entering nested lambdas."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not isinstance(current, cst.Lambda):
            stack.extend(reversed(children(current)))


def names_in(node: cst.CSTNode) -> set[str]:
    """The variable names an expression reads (`self` aside: every method mentions it).

    Attribute names (`log` in `x.log()`) and keyword names (`dim` in `sum(dim=1)`) are
    not variables and are left out.
    """
    names: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Name):
            names.add(current.value)
        elif isinstance(current, cst.Attribute):
            stack.append(current.value)
        elif isinstance(current, cst.Arg):
            stack.append(current.value)
        elif not isinstance(current, cst.Lambda):
            stack.extend(children(current))
    return names - {"self", "cls"}


def unparenthesized(node: cst.BaseExpression) -> cst.BaseExpression:
    if getattr(node, "lpar", None):
        return node.with_changes(lpar=(), rpar=())
    return node


_EMPTY_MODULE = cst.Module(body=())


def compact_code(node: cst.BaseExpression) -> str:
    """The expression's source without whitespace or outer parentheses, to compare by."""
    return "".join(_EMPTY_MODULE.code_for_node(unparenthesized(node)).split())


def same_expression(a: cst.BaseExpression, b: cst.BaseExpression) -> bool:
    """`p` and `(p)` are the same expression; whitespace and parentheses do not count."""
    return compact_code(a) == compact_code(b)


def is_number(node: cst.BaseExpression, value: float) -> bool:
    node = unparenthesized(node)
    return isinstance(node, (cst.Integer, cst.Float)) and float(node.evaluated_value) == value
