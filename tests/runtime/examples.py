"""Probe factories for the bundled examples that need a trained model."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"


def _example(stem: str):
    name = f"nanlint_example_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def trained_tiny_batch_net():
    """`examples/bn_tiny_batch.py` trained as its `__main__` does (10 steps of batch 2),
    probed on a batch of 64 fresh samples."""
    example = _example("bn_tiny_batch")
    torch.manual_seed(0)
    net = example.TinyBatchNet()
    example.train(net)
    return net, (torch.randn(64, 20),)
