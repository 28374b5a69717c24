"""Where a training step's time goes, layer by layer: cnnviz, and PyTorch's kernels vs the rest.

    python bench/profile_layers.py                        # stronger network, batch 32 and 1
    python bench/profile_layers.py --model tutorial --batch-sizes 32 --steps 300

cnnviz (its BLAS setting as shipped): the script runs ``--steps`` training steps the way
``fit`` does (forward with training=True, the fused loss, backward, the optimizer step) and
times every piece in CPU time (``time.process_time``, which other work on a shared machine
changes less than wall time; a second BLAS thread's time counts too), then ``model.fit`` over
the same batches, also in CPU time. The table gives ms per batch (the median over
``--rounds`` rounds of ``--steps`` steps); "fit's own overhead" is fit's time minus the sum of
the pieces (the batch gather, the accuracy count, the loop).

PyTorch: ``torch.profiler`` (CPU) over the same number of eager steps (as in
bench/train_speed.py) at 1 and at all threads; it reports the share of the profiled self time
spent in the convolution and matrix-product kernels (aten ops named below) vs everything else
(pooling, ReLU, the optimizer, the autograd engine's bookkeeping). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import common as C
import numpy as np

# aten ops whose self time is the convolution / GEMM arithmetic (oneDNN or BLAS underneath)
TORCH_KERNELS = (
    "aten::mkldnn_convolution",
    "aten::convolution_backward",
    "aten::_convolution",
    "aten::thnn_conv2d",
    "aten::_slow_conv2d_forward",
    "aten::_slow_conv2d_backward",
    "aten::addmm",
    "aten::mm",
    "aten::bmm",
)


def cnnviz_profile(net, x, y, batch: int, steps: int) -> tuple[dict, float]:
    """{piece: seconds} over ``steps`` steps, and fit's seconds over the same batches."""
    from cnnviz.nn import losses
    from cnnviz.nn.threads import blas_limit

    layers = net.layers
    t: dict[str, float] = {}

    def add(key, dt):
        t[key] = t.get(key, 0.0) + dt

    pc = time.process_time  # CPU time: other work on a shared machine counts less
    n = steps * batch
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), blas_limit():
        for s in range(steps):
            xb, yb = x[s * batch : (s + 1) * batch], y[s * batch : (s + 1) * batch]
            a = xb
            for layer in layers:
                t0 = pc()
                a = layer.forward(a, True)
                add(f"{layer.name} forward", pc() - t0)
            t0 = pc()
            _, grad = losses.last_layer_loss(layers[-1], a, yb)
            add("loss (softmax cross-entropy + dL/dz)", pc() - t0)
            t0 = pc()
            grad = layers[-1].backward_logits(grad)
            add(f"{layers[-1].name} backward", pc() - t0)
            for layer in reversed(layers[:-1]):
                t0 = pc()
                grad = layer.backward(grad)
                add(f"{layer.name} backward", pc() - t0)
            t0 = pc()
            net.apply_gradients()
            add(f"optimizer step ({net.optimizer.name})", pc() - t0)
        t0 = pc()
        net.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0, shuffle=False)
        fit_s = pc() - t0
    return t, fit_s


def cnnviz_table(args, batch: int) -> list[list]:
    _, x, y = C.load_mnist(args.steps * batch)
    net = C.build_cnnviz(args.model, seed=args.seed)
    net.fit(x[: 4 * batch], y[: 4 * batch], batch_size=batch, epochs=1, verbose=0)  # warm-up
    rounds = [cnnviz_profile(net, x, y, batch, args.steps) for _ in range(args.rounds)]
    keys = list(rounds[0][0])
    ms = {k: statistics.median(r[0][k] for r in rounds) * 1e3 / args.steps for k in keys}
    fit_ms = statistics.median(r[1] for r in rounds) * 1e3 / args.steps
    parts = sum(ms.values())
    rows = [[k, round(v, 3), f"{100 * v / fit_ms:.1f}%"] for k, v in ms.items()]
    rows.append(["fit's own overhead (gather, accuracy, loop)", round(fit_ms - parts, 3),
                 f"{100 * (fit_ms - parts) / fit_ms:.1f}%"])  # fmt: skip
    rows.append(["**fit, ms per batch**", round(fit_ms, 3), f"{batch / fit_ms * 1e3:,.0f}/s"])
    return rows


def torch_shares(args, batch: int, threads: int) -> list:
    torch = C.torch_or_none()
    from torch.profiler import ProfilerActivity, profile

    C.set_torch_threads(torch, threads)
    _, x, y = C.load_mnist(args.steps * batch)
    net = C.build_cnnviz(args.model, seed=args.seed)
    tmodel = C.torch_from_cnnviz(net, torch)
    opt = C.torch_optimizer(net, tmodel, torch)
    xt, yt = C.to_nchw(x, torch), torch.from_numpy(y)
    loss_fn = torch.nn.functional.cross_entropy

    def steps():
        for s in range(args.steps):
            idx = slice(s * batch, (s + 1) * batch)
            opt.zero_grad()
            loss_fn(tmodel(xt[idx]), yt[idx]).backward()
            opt.step()

    steps()  # warm-up
    t0 = time.perf_counter()
    steps()
    wall = time.perf_counter() - t0
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        steps()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    kern = {e.key: e.self_cpu_time_total for e in events if e.key in TORCH_KERNELS}
    top = sorted(kern.items(), key=lambda kv: -kv[1])[:3]
    share = sum(kern.values()) / total
    return [
        f"PyTorch {threads} thread{'s' if threads > 1 else ''}",
        batch,
        round(wall * 1e3 / args.steps, 3),
        f"{100 * share:.0f}%",
        f"{100 * (1 - share):.0f}%",
        ", ".join(f"{k[6:]} {100 * v / total:.0f}%" for k, v in top),
    ]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=["tutorial", "strong"], default="strong")
    ap.add_argument("--batch-sizes", type=C.int_list, default=[32, 1])
    ap.add_argument("--steps", type=int, default=100, help="training steps per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)
    print(C.machine_line())
    for batch in args.batch_sizes:
        print(f"\n### cnnviz, {args.model} network, batch {batch} (ms per batch, median of "
              f"{args.rounds} rounds of {args.steps} steps)\n")  # fmt: skip
        print(C.markdown_table(["piece", "ms / batch", "share of fit"], cnnviz_table(args, batch)))
    if args.no_torch or C.torch_or_none() is None:
        return 0
    rows = [
        torch_shares(args, batch, threads)
        for batch in args.batch_sizes
        for threads in sorted({1, C.CORES})
    ]
    print(f"\n### PyTorch, {args.model} network: share of its profiled self time\n")
    print(C.markdown_table(
        ["engine", "batch", "ms / batch (unprofiled)", "conv/GEMM kernels", "the rest",
         "largest kernels"], rows))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
