"""The runtime probe's overhead over a plain forward+backward, on BERT-small (no downloads).

    python bench/probe_bench.py [--batch 4] [--seq 128] [--repeat 5] [--threads N] [--nan] [--full]

BERT-small is `BertConfig(num_hidden_layers=4, hidden_size=512, num_attention_heads=8,
intermediate_size=2048)` with random weights. The baseline is one plain forward and
backward in train mode (the gradient of every float output, as the probe takes it). The
probe is `probe_model`: the state checks, one watched forward and backward in train
mode, one in eval mode, the BatchNorm statistics. After a warm-up the two are timed
alternately --repeat times (so that both see the same load on a shared machine); the
figure is the median of the per-pair ratios probe / baseline (target: under 3x; two
modes alone are 2x). A healthy model is only checked at its output, loss and gradients; `--nan` writes a
NaN into one weight of the third layer, so that each mode is run again watched op by op
(the price of locating the NaN). `--full` also times the whole `nanlint probe` pipeline once (loading, tracing and
range analysis of both modes with torch.export, the probe, the witness search), which
is dominated by tracing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGET_RATIO = 3.0


def bert_small():
    """The factory the benchmark (and `--full`) probes: BERT-small and a batch of token ids."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(num_hidden_layers=4, hidden_size=512, num_attention_heads=8, intermediate_size=2048)
    model = BertModel(config)
    options = _options()
    ids = torch.randint(0, config.vocab_size, (options.batch, options.seq))
    return model, (ids,)


def _options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--nan", action="store_true", help="put a NaN in a weight: the probe locates it")
    parser.add_argument("--full", action="store_true", help="also time the whole `nanlint probe` once")
    return parser.parse_known_args(argv)[0]


def _timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> int:
    options = _options()
    warnings.filterwarnings("ignore")
    import torch

    from nanlint.runtime.probe import probe_model
    from nanlint.runtime.tensors import float_tensors

    if options.threads:
        torch.set_num_threads(options.threads)
    model, args = bert_small()
    if options.nan:
        with torch.no_grad():
            model.encoder.layer[2].attention.self.query.weight[0, 0] = float("nan")

    def plain() -> None:
        model.train()
        model.zero_grad(set_to_none=True)
        outputs = [t for t in float_tensors(model(*args)) if t.requires_grad]
        torch.autograd.backward(outputs, [torch.ones_like(t) for t in outputs])

    def probe() -> None:
        result = probe_model(model, args, {})
        assert all(r.error is None and r.output_finite != options.nan for r in result.runs)
        assert all((r.origin is not None) == options.nan for r in result.runs)

    plain()
    probe()
    pairs = [(_timed(plain), _timed(probe)) for _ in range(options.repeat)]
    baseline = statistics.median(p for p, _ in pairs)
    probed = statistics.median(q for _, q in pairs)
    ratio = statistics.median(q / p for p, q in pairs)
    state = "a NaN in layer 2's query weight" if options.nan else "healthy"
    print(f"BERT-small (4 layers, hidden 512, {state}), batch {options.batch}x{options.seq}, "
          f"{torch.get_num_threads()} threads, median of {options.repeat}")
    print(f"plain forward+backward (train):        {baseline:.3f} s")
    print(f"probe (train + eval, watched, checks): {probed:.3f} s")
    print(f"probe overhead (median of the pairs' ratios): {ratio:.2f}x a plain forward+backward "
          f"({ratio / 2:.2f}x per mode; target < {TARGET_RATIO:g}x): {'met' if ratio < TARGET_RATIO else 'NOT met'}")
    if options.full:
        from nanlint.config import Settings, TraceTarget
        from nanlint.runtime import probe_target

        start = time.perf_counter()
        found = probe_target(TraceTarget(f"{os.path.abspath(__file__)}:bert_small"), Settings())
        print(f"whole `nanlint probe` (load, trace and range analysis of both modes, probe, witness search): "
              f"{time.perf_counter() - start:.1f} s, {len(found)} findings: "
              f"{sorted({f.code for f in found})}")
    return 0 if ratio < TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
