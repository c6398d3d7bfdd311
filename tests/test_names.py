"""Calls are matched by qualified name through every import spelling."""
from __future__ import annotations

import pytest

from tests.conftest import codes_by_line

SPELLINGS = [
    ("import torch", "torch.nn.functional.softplus(x)", "torch.nn.BatchNorm1d(4)"),
    ("import torch as t", "t.nn.functional.softplus(x)", "t.nn.BatchNorm1d(4)"),
    ("from torch import nn", "nn.functional.softplus(x)", "nn.BatchNorm1d(4)"),
    ("import torch.nn as nn", "nn.functional.softplus(x)", "nn.BatchNorm1d(4)"),
    ("import torch.nn.functional as F\nfrom torch.nn import BatchNorm1d as BN", "F.softplus(x)", "BN(4)"),
    ("from torch.nn import functional as F, BatchNorm1d", "F.softplus(x)", "BatchNorm1d(4)"),
]


@pytest.mark.parametrize("imports, softplus, batchnorm", SPELLINGS)
def test_every_import_spelling_resolves(imports, softplus, batchnorm):
    # softplus is a guard only when it resolves to torch's; BatchNorm makes NAN401 apply.
    source = f"""\
{imports}
from torch.utils.data import DataLoader

def f(x, ds, model):
    loader = DataLoader(ds, batch_size=1, shuffle=True)
    norm = {batchnorm}
    y = x / {softplus}
    return x / x.sum()
"""
    lines = source.splitlines()
    loader_line = next(i for i, line in enumerate(lines, 1) if "DataLoader(ds" in line)
    assert codes_by_line(source) == {(loader_line, "NAN401"), (loader_line + 3, "NAN102")}


def test_unresolved_lookalikes_are_not_torch():
    source = """\
import mylib as F

def f(x):
    return x / F.softplus(x)
"""
    # mylib.softplus is unknown: nothing is known about the denominator either way.
    assert codes_by_line(source) == set()


def test_local_variable_shadows_an_import():
    source = """\
import torch.nn.functional as F

def f(x, F):
    return x / F.softplus(x).sum()
"""
    assert codes_by_line(source) == {(4, "NAN102")}


def test_function_level_import_resolves():
    source = """\
def f(x):
    import torch.nn.functional as F
    return x / F.normalize(x, dim=-1).sum(-1, keepdim=True)
"""
    assert codes_by_line(source) == {(3, "NAN102")}
