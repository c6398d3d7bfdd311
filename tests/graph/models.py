"""Small models holding one hazard or one guard each, for the range analysis tests.

Each hazard model has a `bad_input()` under which real torch goes non-finite (forward
or backward); the safe ones stay finite on the same kind of input.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Lin(nn.Module):
    """A linear layer in front of the op under test, so its input range comes from weights."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(width, width)


# ---------------------------------------------------------------- safe forms


class EpsGuard(Lin):
    def forward(self, x):
        y = self.fc(x)
        return x / (y.abs() + 1e-6) + x / (torch.relu(y) + 1e-6) + x / (y * y + 1e-6)


class ClampGuard(Lin):
    def forward(self, x):
        y = self.fc(x)
        return x / y.clamp(min=1e-6) + x / y.clamp_min(1e-3) + x / torch.maximum(y, torch.tensor(1e-6))


class SoftmaxOverItsSum(Lin):
    def forward(self, x):
        p = torch.softmax(self.fc(x), dim=-1)
        return p / p.sum(dim=-1, keepdim=True)


class StableSoftmax(Lin):
    def forward(self, x):
        s = self.fc(x)
        e = torch.exp(s - s.amax(dim=-1, keepdim=True))
        return e / e.sum(dim=-1, keepdim=True)


class StableSoftmaxMaxValues(Lin):
    def forward(self, x):
        s = self.fc(x)
        e = (s - s.max(dim=-1, keepdim=True)[0]).exp()
        return e / e.sum(-1, keepdim=True)


class HandLayerNorm(Lin):
    def forward(self, x):
        h = self.fc(x)
        mean = h.mean(-1, keepdim=True)
        var = ((h - mean) ** 2).mean(-1, keepdim=True)
        return (h - mean) / torch.sqrt(var + 1e-5)


class HandRMSNorm(Lin):
    def forward(self, x):
        h = self.fc(x)
        return h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + 1e-6)


class LayerNorms(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(8)
        self.gn = nn.GroupNorm(2, 4)

    def forward(self, x):
        return self.ln(x), F.layer_norm(x, (8,)), F.normalize(x, dim=-1)


class Attention(nn.Module):
    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.scale = dim

    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.scale)
        return torch.softmax(scores, dim=-1) @ v


class AttentionSizeScaled(Attention):
    def forward(self, x):
        q, k, v = self.q(x), self.k(x), self.v(x)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))
        return torch.softmax(scores, dim=-1) @ v


class GuardedLogs(Lin):
    def forward(self, x):
        s = self.fc(x)
        return (torch.log_softmax(s, -1), torch.log(s.clamp_min(1e-6)), torch.log(torch.sigmoid(s) + 1e-6),
                torch.log1p(s.abs()), F.logsigmoid(s))


class GuardedRoots(Lin):
    def forward(self, x):
        d = self.fc(x) - x
        return torch.sqrt((d ** 2).sum(-1) + 1e-8), torch.sqrt(d.abs() + 1e-6) ** 1.5


class BoundedExp(Lin):
    def forward(self, x):
        return torch.exp(torch.tanh(self.fc(x)) * 5), torch.acos(torch.tanh(self.fc(x)).clamp(-0.999, 0.999))


class ShapeDivision(Lin):
    def forward(self, x):
        return x.sum(-1) / x.size(-1) + x.sum(-1) / x.shape[0]


# ---------------------------------------------------------------- hazards


class NormDivision(Lin):
    def forward(self, x):
        return x / x.norm(dim=-1, keepdim=True)

    bad_input = staticmethod(lambda: torch.zeros(2, 4))


class DifferenceDivision(Lin):
    def forward(self, x):
        return x / (self.fc(x) - x)

    @staticmethod
    def bad_input():
        return None  # the witness depends on the weights: see the test


class LogSoftmaxByHand(Lin):
    def forward(self, x):
        return torch.log(torch.softmax(x, dim=-1))

    bad_input = staticmethod(lambda: torch.tensor([[0.0, -1000.0, 1.0, 2.0]]))


class LogOneMinusSigmoid(Lin):
    def forward(self, x):
        return torch.log(1 - torch.sigmoid(x))

    bad_input = staticmethod(lambda: torch.full((1, 4), 20.0))


class EuclideanDistance(Lin):
    def forward(self, x):
        d = self.fc(x) - self.fc(x.flip(0))
        return torch.sqrt((d ** 2).sum(-1))

    bad_input = staticmethod(lambda: torch.ones(2, 4))


class CubeRoot(Lin):
    def forward(self, x):
        return x.mean(-1) ** (1.0 / 3.0)

    bad_input = staticmethod(lambda: -torch.ones(2, 4))


class AcosOfDot(Lin):
    def forward(self, x):
        return torch.acos((x * x.flip(-1)).sum(-1))

    bad_input = staticmethod(lambda: torch.ones(2, 4))


class ExpRatio(Lin):
    def forward(self, x):
        e = torch.exp(x)
        return e / e.sum(-1, keepdim=True)

    bad_input = staticmethod(lambda: torch.full((2, 4), 100.0))


class BatchVariance(Lin):
    def forward(self, x):
        return (x - x.mean(0)) / (x.var(0) + 1e-5)

    bad_input = staticmethod(lambda: torch.randn(1, 4))


class HalfSum(nn.Module):
    def forward(self, x):
        return (x * x).sum(-1)

    bad_input = staticmethod(lambda: torch.full((2, 1000), 100.0, dtype=torch.float16))


class HalfEps(nn.Module):
    def forward(self, x):
        return x / (x.abs() + 1e-8)

    bad_input = staticmethod(lambda: torch.zeros(2, 4, dtype=torch.float16))


class DropoutDenominator(Lin):
    def __init__(self) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return x / self.drop(x.abs() + 1)


class LogOfBatchNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(4)
        with torch.no_grad():
            self.bn.bias.fill_(2.0)

    def forward(self, x):
        return torch.log(self.bn(x))
