"""Static messages say what really happens at the hazard."""
from __future__ import annotations

from nanlint.api import check_source

SOURCE = "import torch\n\n\ndef f(x):\n    return 1.0 / x.sum(-1), torch.rsqrt(x.pow(2).mean(-1)), x / x.norm()\n"


def test_normalization_at_zero_is_inf_or_nan_by_its_numerator():
    messages = [f.message for f in check_source(SOURCE, "m.py") if f.code == "NAN102"]
    assert len(messages) == 3
    assert "so this is nonzero/0 = Inf there" in messages[0]
    assert "so this is nonzero/0 = Inf there" in messages[1]
    assert "so this is 0/0 = NaN there" in messages[2]
