"""Which files run in float16, and which BatchNorm models train on tiny batches."""
from __future__ import annotations

from tests.conftest import codes_by_line

GUARD = "def f(x):\n    return x / (x.norm() + 1e-8)\n"


def test_a_dtype_passed_to_a_call_makes_the_file_float16():
    assert codes_by_line("import torch\n" + GUARD + "y = torch.zeros(3, dtype=torch.float16)\n") == {(3, "NAN301")}


def test_a_dtype_compared_or_tabled_does_not():
    source = "import torch\n" + GUARD + "ok = y.dtype == torch.float16\nnames = {torch.float16: 'half'}\n"
    assert codes_by_line(source) == set()


def test_autocast_fp16_makes_guards_float16_but_not_the_optimizer():
    source = """\
import torch

def step(model, x):
    opt = torch.optim.Adam(model.parameters())
    with torch.autocast(device_type="cuda"):
        y = model(x) / (model(x).norm() + 1e-8)
    y.sum().backward()
    opt.step()
"""
    # Line 7 trains under float16 autocast without a GradScaler: NAN302.
    assert codes_by_line(source) == {(6, "NAN301"), (7, "NAN302")}


def test_half_storage_flags_the_optimizer_default_eps():
    source = """\
import torch

model = torch.nn.Linear(2, 2).half()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
"""
    assert codes_by_line(source) == {(4, "NAN301")}


def test_layer_norm_eps_is_only_checked_against_min_eps():
    source = """\
import torch

model = torch.nn.LayerNorm(8, eps=1e-10).half()
"""
    assert codes_by_line(source) == set()
    assert codes_by_line(source, min_eps=1e-6) == {(3, "NAN301")}


def test_a_complex_constant_is_not_an_eps():
    assert codes_by_line("import torch\nx = torch.ones(2).half()\nz = 1e-30 + 1e-30j\n") == set()


def test_tiny_batch_needs_a_batchnorm_model_not_just_a_batchnorm_somewhere():
    source = """\
import torch
import torch.nn as nn

class WithNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(4)

def train_linear(opt):
    net = nn.Linear(1, 5)
    net.train()
    net(torch.randn(2, 1)).sum().backward()
    opt.step()

def train_norm(opt):
    net = WithNorm()
    net.train()
    net(torch.randn(2, 4)).sum().backward()
    opt.step()
"""
    assert codes_by_line(source) == {(18, "NAN401")}


def test_tiny_batch_size_one_is_an_error_and_the_threshold_is_configurable():
    from tests.conftest import lint

    source = """\
import torch.nn as nn
from torch.utils.data import DataLoader

model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
one = DataLoader(ds, batch_size=1, shuffle=True)
eight = DataLoader(ds, batch_size=8, shuffle=True)
"""
    findings = lint(source)
    assert [(f.line, f.severity.value) for f in findings] == [(5, "error")]
    assert {f.line for f in lint(source, min_batch_size=16)} == {5, 6}
