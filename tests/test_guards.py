"""Guard recognition for divisions: what is flagged and what is left alone."""
from __future__ import annotations

import pytest

from tests.conftest import codes_by_line

FLAGGED = [
    ("x / x.sum(-1, keepdim=True)", "NAN102"),
    ("x / torch.norm(x, dim=-1)", "NAN102"),
    ("x / torch.linalg.vector_norm(x)", "NAN102"),
    ("(x - x.mean()) / x.std()", "NAN102"),
    ("x / torch.sqrt(x.var(0))", "NAN102"),
    ("x / x.abs().max()", "NAN102"),
    ("x / (x.max() - x.min())", "NAN101"),
    ("torch.div(x, x.sum())", "NAN102"),
    ("x.div(x.norm())", "NAN102"),
    ("torch.true_divide(x, (x > 0).sum())", "NAN102"),
    ("torch.reciprocal(x.sum() - x.sum())", "NAN101"),
    ("torch.rsqrt(x.pow(2).mean(-1))", "NAN102"),
    ("1 / torch.count_nonzero(x)", "NAN101"),
]

GUARDED = [
    "x / (x.sum() + 1e-6)",
    "x / (x.sum() + eps)",
    "x / (x.norm() + self.eps)",
    "x / x.norm().clamp(min=1e-12)",
    "x / x.norm().clamp_min(1e-12)",
    "x / torch.clamp(x.norm(), min=1e-6)",
    "x / torch.maximum(x.norm(), torch.tensor(1e-6))",
    "x / torch.sqrt(x.var(0) + 1e-5)",
    "x * torch.rsqrt(x.pow(2).mean(-1) + 1e-6)",
    "x / (1 + x.abs().sum())",
    "x / F.softplus(x)",
    "x / torch.exp(x).sum()",
    "x / 2.0",
    "x / math.sqrt(x.size(-1))",
    "x / x.shape[-1]",
    "x / len(x)",
    "x / x.numel()",
    "x / y",
    "x / self.scale",
    "x / torch.ones(3)",
    "x / torch.full((3,), 2.0)",
    "x / x.sum().item()",
]


def _source(expression: str) -> str:
    return f"""\
import math
import torch
import torch.nn.functional as F

def f(self, x, y, eps=1e-6):
    return {expression}
"""


# Only the division rules: `x / torch.exp(x).sum()` is quiet here but is NAN207's.
DIVISION = {"select": ("NAN1",)}


@pytest.mark.parametrize("expression, code", FLAGGED)
def test_unguarded_denominators_are_flagged(expression, code):
    assert codes_by_line(_source(expression), **DIVISION) == {(6, code)}


@pytest.mark.parametrize("expression", GUARDED)
def test_guarded_or_unknown_denominators_are_quiet(expression):
    assert codes_by_line(_source(expression), **DIVISION) == set()


def test_augmented_division_and_local_variables():
    source = """\
import torch

def f(x):
    total = x.sum(0) + x.sum(1)
    x /= total
    safe = total.clamp_min(1e-6)
    return x / safe
"""
    assert codes_by_line(source) == {(5, "NAN101")}


def test_positions_are_one_based_and_span_the_division():
    from tests.conftest import lint

    (finding,) = lint("import torch\n\ndef f(x):\n    return x / x.sum()\n")
    assert (finding.line, finding.column, finding.end_line, finding.end_column) == (4, 12, 4, 23)


def test_a_parameter_default_is_not_its_value():
    # `epsilon=0` may be called with 1e-8: the guard is trusted, not the default.
    source = """\
import torch

def orthogonalize(col, epsilon=0):
    return col / (torch.norm(col, dim=1, keepdim=True) + epsilon)
"""
    assert codes_by_line(source) == set()


def test_a_zero_check_before_the_division_is_a_guard():
    source = """\
import torch

def iou(ref, res):
    intersection = (ref & res).sum().float()
    union = (ref | res).sum().float()
    if union == 0:
        return 1.0
    return intersection / union
"""
    assert codes_by_line(source) == set()


def test_an_eps_named_floor_in_torch_max_is_a_guard():
    source = """\
import torch

def scale_of(self, x, y):
    scale = torch.max((x - y).abs().amax(), self.eps)
    return x / scale
"""
    assert codes_by_line(source) == set()
