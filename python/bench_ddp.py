"""Time per DDP training step on CPU (2 processes, gloo) and bits sent per rank per step for:
no hook (all-reduce), PyTorch's fp16_compress_hook, PyTorch's powerSGD_hook (rank 1), and
squeeze_hook (EF21 + Top-1 %), on an MLP with about 1.1 M parameters.

    python python/bench_ddp.py [--steps 30] [--warmup 5] [--threads 1]

Prints a markdown table (rank 0). "bits/step" is what one rank contributes per step: the dense
gradient for all-reduce (32 bits per entry), 16 bits per entry for fp16, PowerSGD's P and Q
factors plus its uncompressed vectors (from its own compression statistics), and squeeze's exact
encoded message bits (state.bits_sent).
"""

import argparse
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as psgd
from torch.nn.parallel import DistributedDataParallel as DDP

from squeeze.torch import SqueezeState, squeeze_hook


def _model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )


def _run(rank, port, args, results):
    torch.set_num_threads(args.threads)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    g = torch.Generator().manual_seed(rank)
    x = torch.randn(args.batch, 784, generator=g)
    y = torch.randint(0, 10, (args.batch,), generator=g)
    names = ["all-reduce (no hook)", "fp16_compress_hook", "powerSGD_hook (rank 1)",
             "squeeze_hook (EF21 + top_k:ratio=0.01)"]
    runs = []
    for name in names:
        # one bucket (an explicit cap also applies to the first bucket): PowerSGD chains
        # collectives in future callbacks, which gloo cannot order across several buckets
        model = DDP(_model(), bucket_cap_mb=25)
        state = None
        if name.startswith("fp16"):
            model.register_comm_hook(None, default_hooks.fp16_compress_hook)
        elif name.startswith("powerSGD"):
            state = psgd.PowerSGDState(process_group=None, matrix_approximation_rank=1,
                                       start_powerSGD_iter=2, min_compression_rate=2,
                                       use_error_feedback=True, warm_start=True)
            model.register_comm_hook(state, psgd.powerSGD_hook)
        elif name.startswith("squeeze"):
            state = SqueezeState(compressor="top_k:ratio=0.01", feedback="ef21", seed=0)
            model.register_comm_hook(state, squeeze_hook)
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        runs.append({"name": name, "model": model, "opt": opt, "state": state, "times": []})

    def step(r):
        r["opt"].zero_grad()
        torch.nn.functional.cross_entropy(r["model"](x), y).backward()
        r["opt"].step()

    for r in runs:
        for _ in range(args.warmup):
            step(r)
        st = r["state"]
        r["bits0"] = st.bits_sent if isinstance(st, SqueezeState) else 0
        if isinstance(st, psgd.PowerSGDState):
            _, r["before0"], r["after0"] = st.compression_stats()
    # interleave the hooks in blocks of 5 steps, so that load from other processes on the
    # machine spreads evenly over them
    for _ in range(args.steps // 5):
        for r in runs:
            for _ in range(5):
                dist.barrier()
                t = time.perf_counter()
                step(r)
                r["times"].append(time.perf_counter() - t)
    rows = []
    for r in runs:
        name, st, times = r["name"], r["state"], r["times"]
        n = sum(p.numel() for p in r["model"].parameters())
        if isinstance(st, SqueezeState):
            bits = (st.bits_sent - r["bits0"]) / len(times)
        elif isinstance(st, psgd.PowerSGDState):
            _, before, after = st.compression_stats()
            # numel after compression of the compressed tensors plus the uncompressed rest
            compressed = (after - r["after0"]) / len(times)
            skipped = n - (before - r["before0"]) / len(times)
            bits = 32 * (compressed + skipped)
        elif name.startswith("fp16"):
            bits = 16 * n
        else:
            bits = 32 * n
        rows.append((name, n, statistics.median(times) * 1e3, statistics.mean(times) * 1e3,
                     bits, bits / (32 * n)))
    if rank == 0:
        results.extend(rows)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with mp.Manager() as manager:
        results = manager.list()
        mp.spawn(_run, args=(port, args, results), nprocs=2, join=True)
        rows = list(results)
    print(f"2 processes, gloo, CPU, {args.threads} torch thread(s) each, batch {args.batch}, "
          f"{args.warmup} warm-up + {args.steps // 5 * 5} timed steps per hook (interleaved in "
          f"blocks of 5), {rows[0][1]:,} parameters\n")
    print("| hook | ms/step (median) | ms/step (mean) | bits/step per rank | vs dense f32 |")
    print("|---|---:|---:|---:|---:|")
    for name, _, med, mean, bits, frac in rows:
        print(f"| {name} | {med:.1f} | {mean:.1f} | {bits:,.0f} | {100 * frac:.2f} % |")


if __name__ == "__main__":
    main()
