"""Probe factories for the real-world cases in `tests/cases/` that have a model: each
returns `(model, example_inputs)` or `(model, example_inputs, loss)` with the inputs the
case's `__main__` feeds it (`nanlint probe tests/runtime/cases.py:gem_pool`)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch
import torch.nn as nn
import torch.nn.functional as F

CASES = Path(__file__).resolve().parent.parent / "cases"


def _case(stem: str) -> ModuleType:
    name = f"nanlint_case_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, CASES / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def scratch_batchnorm_single_sample():
    """02: the last mini-batch of the epoch holds one example."""
    case = _case("02_scratch_batchnorm_single_sample")
    torch.manual_seed(0)
    idx = torch.randint(0, 27, (1, 3))
    target = torch.randint(0, 27, (1,))
    return case.CharMLP(), (idx,), lambda logits: F.cross_entropy(logits, target)


def masked_log_softmax_empty_row():
    """04: the second passage is empty after truncation."""
    case = _case("04_masked_log_softmax_empty_row")
    torch.manual_seed(0)
    scorer = case.SpanStartScorer()
    tokens = torch.randn(2, 6, 16)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]])
    return scorer, (tokens, mask)


def where_log_branch_gradient():
    """05: event counts, zeros are common."""
    case = _case("05_where_log_branch_gradient")
    torch.manual_seed(0)
    model = case.CountFeatureModel()
    counts = torch.randint(0, 10, (16, 6)).float()
    target = torch.randn(16, 1)
    return model, (counts,), lambda out: (out - target).pow(2).mean()


class _TripletModel(nn.Module):
    """06: an encoder and the triplet loss on its embeddings."""

    def __init__(self, criterion: nn.Module):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 8))
        self.criterion = criterion

    def forward(self, items, anchor_idx, positive_idx, negative_idx):
        emb = self.encoder(items)
        return self.criterion(emb[anchor_idx], emb[positive_idx], emb[negative_idx])


def triplet_euclidean_sqrt_grad():
    """06: the sampler paired item 0 with itself."""
    case = _case("06_triplet_euclidean_sqrt_grad")
    torch.manual_seed(0)
    model = _TripletModel(case.TripletMarginLoss(margin=1.0))
    items = torch.randn(6, 12)
    return model, (items, torch.tensor([0, 1, 2]), torch.tensor([0, 3, 4]), torch.tensor([5, 5, 1]))


def gem_pool_odd_root():
    """10: features entering the pool are not forced positive."""
    case = _case("10_gem_pool_odd_root")
    torch.manual_seed(0)
    net = case.RetrievalNet()
    return net, (torch.randn(2, 3, 16, 16),)


def adam_eps_in_half():
    """12: a float16 model; its hazard is in Adam's update, which the probe does not run."""
    case = _case("12_adam_eps_in_half")
    torch.manual_seed(0)
    model = case.build_model()
    return model, (torch.randn(64, 16).half(),)


class _DiceModel(nn.Module):
    """19: a segmentation head scored by the per-class Dice of its argmax."""

    def __init__(self, dice):
        super().__init__()
        self.seg_head = nn.Conv2d(4, 3, kernel_size=1)
        self.dice = dice
        with torch.no_grad():
            self.seg_head.bias.copy_(torch.tensor([5.0, 0.0, 0.0]))  # background dominates

    def forward(self, image_feats, labels):
        return self.dice(self.seg_head(image_feats), labels, n_classes=3)


def dice_empty_masks():
    """19: slices with no foreground at all."""
    case = _case("19_dice_empty_masks")
    torch.manual_seed(0)
    feats = torch.randn(2, 4, 8, 8) * 0.1
    return _DiceModel(case.mean_dice), (feats, torch.zeros(2, 8, 8, dtype=torch.long))


def graph_attention_exp_overflow():
    """22: unnormalised node features."""
    case = _case("22_graph_attention_exp_overflow")
    torch.manual_seed(0)
    layer = case.GraphAttention()
    x = torch.randn(5, 8) * 30.0
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 1, 2], [1, 0, 1, 2, 3, 4, 4]])
    return layer, (x, edge_index)
