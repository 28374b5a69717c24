"""Training speed, samples per second: cnnviz vs PyTorch eager vs Keras 3 (torch backend).

    python bench/train_speed.py                     # tutorial network, batch 1 and 32
    python bench/train_speed.py --model strong      # two conv layers, Adam
    python bench/train_speed.py --batch-sizes 32 --samples 8000 --repeats 7 --json out.json
    python bench/train_speed.py --model strong --busy 1   # with 1 other program on a core

Every engine trains the same network from the same initial weights (cnnviz's, copied) on the
same MNIST images (x / 255 - 0.5, float32): a timed run is one shuffled epoch over the first
m images, m sized per engine so that a run lasts about ``--run-seconds`` (at most
``--samples``). Runs are interleaved round-robin in one process (cnnviz, PyTorch, ..., Keras,
cnnviz, PyTorch, ...) so that load from other work on the machine hits every engine alike; the
table reports the median, min and max of the repeats. Nothing is asserted.

- cnnviz: ``model.fit(x, y, batch_size, epochs=1, verbose=0, shuffle=True)`` as shipped (a
  batch in 2 chunks on 2 threads when that is measured faster, BLAS on 1 thread:
  cnnviz/nn/parallel.py), and on whole batches on 1 thread as the app trains (cnnviz1) or with
  BLAS on every core (cnnvizN, not run by default);
- PyTorch: a plain eager loop (randperm, index, forward, cross_entropy, backward, step) with
  ``torch.set_num_threads(<cores>)`` (torch) and ``torch.set_num_threads(1)`` (torch1);
- Keras: ``model.fit(x, y, batch_size, epochs=1, verbose=0, shuffle=True)`` with
  KERAS_BACKEND=torch, on <cores> torch threads (keras) and on 1 (keras1).

The issue's targets compare cnnviz with the FASTER of the two PyTorch rows. ``--busy N`` runs
N other programs (a matrix product in a loop, one core each) for the whole measurement: the
machine under load, the same for every engine.
"""

from __future__ import annotations

import argparse
import sys

import common as C

# default cap on the images per timed run (each engine's run is sized to ~--run-seconds)
AUTO_SAMPLES = {"tutorial": 8000, "strong": 2000}

# minimum cnnviz / fastest PyTorch ratio per batch: issue 3 (tutorial), issue 14 (strong)
TARGETS = {"tutorial": {1: 3.0, 32: 1.2}, "strong": {1: 1.5, 32: 1.0}}


def torch_epoch(torch, tmodel, opt, xt, yt, batch: int, gen) -> None:
    """One shuffled epoch of plain eager PyTorch training. xt (n, C, H, W), yt (n,) int64."""
    tmodel.train()
    loss_fn = torch.nn.functional.cross_entropy
    order = torch.randperm(len(xt), generator=gen)
    for i in range(0, len(xt), batch):
        idx = order[i : i + batch]
        opt.zero_grad()
        loss = loss_fn(tmodel(xt[idx]), yt[idx])
        loss.backward()
        opt.step()


def make_runners(args, batch: int, n: int):
    """key -> run(m) (one timed epoch over m images, returns samples/s), key -> why missing."""
    xu8, x, y = C.load_mnist(n)
    base = C.build_cnnviz(args.model, seed=args.seed)  # every engine starts from these weights
    runners, missing = {}, {}
    torch = C.torch_or_none()
    for key in args.engines:
        why = C.engine_missing(key)
        if why:
            missing[key] = why
            continue
        threads = C.ENGINES[key][1]
        if key.startswith("cnnviz"):
            run = _cnnviz_runner(args, base, xu8, x, y, batch, threads)
        elif key.startswith("torch"):
            run = _torch_runner(torch, base, x, y, batch, threads, args.seed)
        else:
            run = _keras_runner(torch, base, x, y, batch, threads, args.seed)
        runners[key] = run
    return runners, missing


def _cnnviz_runner(args, base, xu8, x, y, batch, threads):
    net = C.build_cnnviz(args.model, seed=args.seed)  # a twin of base: same seed, same weights
    C.check_same_weights(net, base)
    if args.cnnviz_input == "scaled":
        from cnnviz.nn import ScaledImages

        data = ScaledImages(xu8)
    else:
        data = x
    seed = [args.seed]

    def run(m):
        seed[0] += 1
        with C.cnnviz_blas(threads):
            secs = C.timed(
                lambda: net.fit(
                    data if m == len(y) else data[:m],
                    y[:m],
                    batch_size=batch,
                    epochs=1,
                    verbose=0,
                    shuffle=True,
                    seed=seed[0],
                )
            )
        if getattr(net.history, "diverged", False):
            print("  (a cnnviz run diverged: its time covers a partial epoch)", file=sys.stderr)
        return m / secs

    return run


def _torch_runner(torch, base, x, y, batch, threads, seed):
    torch.manual_seed(seed)
    tmodel = C.torch_from_cnnviz(base, torch)
    topt = C.torch_optimizer(base, tmodel, torch)
    xt, yt = C.to_nchw(x, torch), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)

    def run(m):
        C.set_torch_threads(torch, threads)
        return m / C.timed(lambda: torch_epoch(torch, tmodel, topt, xt[:m], yt[:m], batch, gen))

    return run


def _keras_runner(torch, base, x, y, batch, threads, seed):
    keras = C.keras_or_none()
    keras.utils.set_random_seed(seed)
    kmodel = C.keras_from_cnnviz(base, keras)

    def run(m):
        C.set_torch_threads(torch, threads)
        return m / C.timed(
            lambda: kmodel.fit(x[:m], y[:m], batch_size=batch, epochs=1, verbose=0, shuffle=True)
        )

    return run


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", choices=["tutorial", "strong"], default="tutorial")
    p.add_argument("--batch-sizes", type=C.int_list, default=[1, 32], help="e.g. 1,32")
    p.add_argument(
        "--samples",
        type=int,
        default=None,
        help="at most this many images per timed run (default: tutorial 8000, strong 2000)",
    )
    p.add_argument(
        "--run-seconds",
        type=float,
        default=0.75,
        help="size each engine's run to take about this long, from a speed estimate made "
        "after its warm-up (default 0.75); 0: every engine runs over --samples images",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed runs per engine (default 5)")
    p.add_argument(
        "--engines",
        default="cnnviz,cnnviz1,torch,torch1,keras,keras1",
        help="comma-separated subset of " + ",".join(C.ENGINES),
    )
    p.add_argument(
        "--cnnviz-input",
        choices=["array", "scaled"],
        default="array",
        help="cnnviz trains on the float32 array (default) or on ScaledImages(uint8)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--busy", type=int, default=0, help="N other programs keep N cores busy (default 0)"
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    args.engines = C.parse_engines(args.engines, p)

    print(C.machine_line())
    opt = "SGD lr 0.01" if args.model == "tutorial" else "Adam lr 0.001"
    print(
        f"\nTraining samples/s, {args.model} network ({opt}), float32, median of "
        f"{args.repeats} interleaved runs (min, max)"
        + (f", with {args.busy} busy program(s) running" if args.busy else "")
        + ".\n"
    )
    with C.busy(args.busy):
        rows, results, per_batch = C.measure_batches(
            args, make_runners, args.samples or AUTO_SAMPLES[args.model]
        )
    notes = []
    for batch, stats in per_batch.items():
        key, best = C.best_torch(stats)
        goals = TARGETS[args.model]
        if "cnnviz" in stats and best and batch in goals:
            ratio = stats["cnnviz"]["median"] / best["median"]
            goal = goals[batch]
            issue = 3 if args.model == "tutorial" else 14
            note = (
                f"Issue {issue} target, batch {batch}: cnnviz / fastest PyTorch "
                f"({C.ENGINES[key][0]}) "
                f">= {goal}: measured {ratio:.2f} ({'met' if ratio >= goal else 'not met'})"
            )
            if batch == 32 and args.model == "tutorial":
                e = stats["cnnviz"]["epoch_seconds"]
                note += f"; 60,000-image epoch <= 2 s: {e:.1f} s ({'met' if e <= 2 else 'not met'})"
            notes.append(note)

    C.print_speed_report(rows, notes)
    payload = {
        "benchmark": "train_speed",
        "command": C.command_line("train_speed.py", argv),
        "settings": {
            "model": args.model,
            "optimizer": opt,
            "batch_sizes": args.batch_sizes,
            "samples": args.samples or "auto",
            "run_seconds": args.run_seconds,
            "repeats": args.repeats,
            "engines": args.engines,
            "cnnviz_input": args.cnnviz_input,
            "seed": args.seed,
            "busy": args.busy,
            "dtype": "float32",
        },
        "results": results,
        "targets": notes,
    }
    C.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
