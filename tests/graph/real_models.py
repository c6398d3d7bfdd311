"""Real architectures for the graph analyzer's tests and benchmark (no downloads)."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    """A ResNet-18-style CNN: stem, three stages of basic blocks, pooling, classifier."""

    def __init__(self, classes: int = 10, width: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.layer1 = nn.Sequential(BasicBlock(width, width), BasicBlock(width, width))
        self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, 2), BasicBlock(2 * width, 2 * width))
        self.layer3 = nn.Sequential(BasicBlock(2 * width, 4 * width, 2), BasicBlock(4 * width, 4 * width))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * width, classes)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def resnet() -> tuple[nn.Module, tuple[Any, ...], dict[str, Any]]:
    torch.manual_seed(0)
    model = SmallResNet()
    model.train()
    with torch.no_grad():
        for _ in range(3):  # real running statistics, not the initial 0 / 1
            model(torch.randn(8, 3, 32, 32))
    return model, (torch.randn(2, 3, 32, 32),), {}


def bert(layers: int = 2, hidden: int = 64, heads: int = 4, vocab: int = 1000):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                        intermediate_size=4 * hidden, vocab_size=vocab)
    model = BertModel(config)
    ids = torch.randint(0, vocab, (2, 16))
    return model, (), {"input_ids": ids, "attention_mask": torch.ones(2, 16, dtype=torch.long)}


def bert_base():
    return bert(layers=12, hidden=768, heads=12, vocab=30522)


def gpt2(layers: int = 2, hidden: int = 64, heads: int = 4, vocab: int = 1000):
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    config = GPT2Config(n_layer=layers, n_embd=hidden, n_head=heads, vocab_size=vocab, n_positions=64,
                        use_cache=False, bos_token_id=0, eos_token_id=0)
    return GPT2Model(config), (), {"input_ids": torch.randint(0, vocab, (2, 16))}


def transformer():
    torch.manual_seed(0)
    model = nn.Transformer(d_model=64, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                           dim_feedforward=128, batch_first=True)
    return model, (torch.randn(2, 10, 64), torch.randn(2, 7, 64)), {}


MODELS = {"resnet": resnet, "bert": bert, "gpt2": gpt2, "transformer": transformer}
