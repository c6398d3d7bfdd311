"""NAN303's safe fix: an infinite mask fill becomes `torch.finfo(<tensor>.dtype).min`."""
from __future__ import annotations

import pytest

from nanlint.api import check_source
from nanlint.fixes import fix_text
from tests.conftest import needs_torch

HEAD = "import torch\nimport torch.nn.functional as F\n\n\ndef attend(scores, mask):\n"


@pytest.mark.parametrize(
    ("line", "fixed"),
    [
        ("    scores = scores.masked_fill(mask, float('-inf'))  # padding\n",
         "    scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)  # padding\n"),
        ("    scores = torch.masked_fill(scores, mask, -float('inf'))\n",
         "    scores = torch.masked_fill(scores, mask, torch.finfo(scores.dtype).min)\n"),
        ("    scores = torch.where(mask, float('-inf'), scores)\n",
         "    scores = torch.where(mask, torch.finfo(scores.dtype).min, scores)\n"),
        ("    scores[mask] = float('-inf')\n",
         "    scores[mask] = torch.finfo(scores.dtype).min\n"),
    ],
)
def test_infinite_fills_are_fixed_and_the_fixed_code_is_quiet(line, fixed):
    source = HEAD + line + "    return F.softmax(scores, dim=-1)\n"
    [finding] = check_source(source)
    assert finding.code == "NAN303" and finding.fix is not None and finding.fix.safe
    result = fix_text(source, check_source)
    assert result.text == HEAD + fixed + "    return F.softmax(scores, dim=-1)\n"
    assert result.remaining == []


@needs_torch
def test_the_fixed_mask_fill_is_finite_where_the_original_is_nan():
    import torch

    scores = torch.randn(2, 3)
    mask = torch.tensor([[True, True, True], [False, True, False]])
    bad = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    good = torch.softmax(scores.masked_fill(mask, torch.finfo(scores.dtype).min), dim=-1)
    assert torch.isnan(bad[0]).all() and torch.isfinite(good).all()
