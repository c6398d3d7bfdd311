"""Time tracing and range analysis of real models (no downloads).

    python bench/graph_bench.py [--models resnet,bert,gpt2,transformer,bert-base] [--repeat 3] [--threads N]

Tracing is both modes (eval and train: symbolic_trace, or torch.export when that fails);
analysis is the range propagation and hazard checks of both graphs with a fresh weight
cache each run (the median of --repeat runs is printed). The target: a BERT-base-sized
graph (12 layers, hidden 768) analysed in under 2 s after tracing, on a 2-core machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TARGET_SECONDS = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet,bert,gpt2,transformer,bert-base")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    options = parser.parse_args()

    warnings.filterwarnings("ignore")
    import torch

    if options.threads:
        torch.set_num_threads(options.threads)

    from nanlint.graph import GRAPH_CODES
    from nanlint.graph.pipeline import ModeHazards, hazards_of, to_findings
    from nanlint.graph.ranges import Weights
    from nanlint.graph.trace import trace_modes
    from tests.graph.real_models import MODELS, bert_base

    factories = {**MODELS, "bert-base": bert_base}
    # The first trace of a process pays torch's lazy imports (fx, export, tracebacks): not a model's cost.
    trace_modes(torch.nn.Sequential(torch.nn.Linear(2, 2)), (torch.randn(2, 2),), {})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':<12} {'dialect':<8} {'ops':>6} {'params':>8} {'trace s':>8} {'analysis s':>10} {'findings':>8}")
    bert_base_seconds = None
    for name in options.models.split(","):
        model, args, kwargs = factories[name]()
        params = sum(p.numel() for p in model.parameters())
        start = time.perf_counter()
        graphs = trace_modes(model, args, kwargs)
        traced = time.perf_counter() - start
        timings = []
        for _ in range(options.repeat):
            start = time.perf_counter()
            weights = Weights()
            per_mode = [ModeHazards("train" if g.training else "eval", hazards_of(g, weights=weights))
                        for g in graphs]
            findings = to_findings(per_mode, GRAPH_CODES, f"<{name}>")
            timings.append(time.perf_counter() - start)
        analysed = statistics.median(timings)
        ops = "+".join(str(len(g.ops)) for g in graphs)
        print(f"{name:<12} {graphs[0].dialect:<8} {ops:>6} {params / 1e6:>7.1f}M {traced:>8.2f} {analysed:>10.2f} "
              f"{len(findings):>8}")
        if name == "bert-base":
            bert_base_seconds = analysed
    if bert_base_seconds is not None:
        verdict = "meets" if bert_base_seconds < TARGET_SECONDS else "MISSES"
        print(f"BERT-base analysis (both modes): {bert_base_seconds:.2f} s, {verdict} the {TARGET_SECONDS:g} s target")
        return 0 if bert_base_seconds < TARGET_SECONDS else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
