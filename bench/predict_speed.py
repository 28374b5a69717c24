"""Inference speed (``predict`` at batch 256), samples per second: cnnviz vs PyTorch vs Keras.

    python bench/predict_speed.py                       # tutorial network, batch 256
    python bench/predict_speed.py --model strong --repeats 7 --json predict.json

The same network with the same weights (cnnviz's initial weights, copied) predicts class
probabilities for the first m MNIST test images (x / 255 - 0.5, float32); m is sized per engine
so a run lasts about ``--run-seconds`` (at most ``--samples``). Runs are interleaved
round-robin in one process; the table gives the median, min and max of the repeats.

- cnnviz: ``model.predict(x, batch_size=256)`` (NHWC float32 array) as shipped (its own BLAS
  setting), and with BLAS on every core (cnnvizN) or 1 thread (cnnviz1, not run by default);
- PyTorch: ``torch.inference_mode()``, ``model.eval()``, softmax of each 256-image batch of a
  NCHW tensor (converted once, outside the timing), concatenated; <cores> threads and 1 thread;
- Keras: ``model.predict(x, batch_size=256, verbose=0)`` on the torch backend.
"""

from __future__ import annotations

import argparse

import common as C

AUTO_SAMPLES = {"tutorial": 10_000, "strong": 10_000}


def make_runners(args, batch: int, n: int):
    """key -> run(m) (predict m images once, returns samples/s), key -> why missing."""
    _, x, _ = C.load_mnist(n, split="test")
    base = C.build_cnnviz(args.model, seed=args.seed)
    torch = C.torch_or_none()
    runners, missing = {}, {}
    for key in args.engines:
        why = C.engine_missing(key)
        if why:
            missing[key] = why
            continue
        threads = C.ENGINES[key][1]
        if key.startswith("cnnviz"):
            runners[key] = _cnnviz_runner(base, x, batch, threads)
        elif key.startswith("torch"):
            runners[key] = _torch_runner(torch, base, x, batch, threads)
        else:
            runners[key] = _keras_runner(torch, base, x, batch, threads)
    return runners, missing


def _cnnviz_runner(net, x, batch, threads):
    def run(m):
        with C.cnnviz_blas(threads):
            return m / C.timed(lambda: net.predict(x[:m], batch_size=batch))

    return run


def _torch_runner(torch, base, x, batch, threads):
    tmodel = C.torch_from_cnnviz(base, torch).eval()
    xt = C.to_nchw(x, torch)

    def predict(m):
        with torch.inference_mode():
            outs = [torch.softmax(tmodel(xt[i : i + batch]), dim=1) for i in range(0, m, batch)]
            return torch.cat(outs).numpy()

    def run(m):
        C.set_torch_threads(torch, threads)
        return m / C.timed(lambda: predict(m))

    return run


def _keras_runner(torch, base, x, batch, threads):
    kmodel = C.keras_from_cnnviz(base, C.keras_or_none())

    def run(m):
        C.set_torch_threads(torch, threads)
        return m / C.timed(lambda: kmodel.predict(x[:m], batch_size=batch, verbose=0))

    return run


def check_outputs_agree(args, n: int = 512) -> dict:
    """Max |p_cnnviz - p_other| over n test images: proof the rows time the same function."""
    _, x, _ = C.load_mnist(n, split="test")
    net = C.build_cnnviz(args.model, seed=args.seed)
    p = net.predict(x, batch_size=256)
    out = {}
    torch = C.torch_or_none()
    if torch is not None:
        tmodel = C.torch_from_cnnviz(net, torch).eval()
        with torch.inference_mode():
            pt = torch.softmax(tmodel(C.to_nchw(x, torch)), dim=1).numpy()
        out["torch"] = float(abs(p - pt).max())
    keras = C.keras_or_none()
    if keras is not None:
        pk = C.keras_from_cnnviz(net, keras).predict(x, batch_size=256, verbose=0)
        out["keras"] = float(abs(p - pk).max())
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", choices=["tutorial", "strong"], default="tutorial")
    p.add_argument("--batch-sizes", type=C.int_list, default=[256], help="e.g. 256 or 32,256")
    p.add_argument(
        "--samples", type=int, default=None, help="at most this many images per run (10000)"
    )
    p.add_argument(
        "--run-seconds",
        type=float,
        default=1.0,
        help="size each engine's run to take about this long (default 1.0); 0: --samples each",
    )
    p.add_argument("--repeats", type=int, default=5, help="timed runs per engine (default 5)")
    p.add_argument(
        "--engines",
        default="cnnviz,cnnvizN,torch,torch1,keras,keras1",
        help="comma-separated subset of " + ",".join(C.ENGINES),
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    args.engines = C.parse_engines(args.engines, p)

    print(C.machine_line())
    agree = check_outputs_agree(args)
    print(
        f"\nInference samples/s (predict), {args.model} network, float32, median of "
        f"{args.repeats} interleaved runs (min, max). Max |probability difference| vs cnnviz "
        f"on 512 test images: "
        + (", ".join(f"{k} {v:.1e}" for k, v in agree.items()) or "no other engine installed")
        + ".\n"
    )
    rows, results, per_batch = C.measure_batches(
        args, make_runners, args.samples or AUTO_SAMPLES[args.model]
    )
    notes = []
    for batch, stats in per_batch.items():
        key, best = C.best_torch(stats)
        if args.model == "tutorial" and "cnnviz" in stats and best and batch == 256:
            ratio = stats["cnnviz"]["median"] / best["median"]
            notes.append(
                f"Issue 3 target, batch 256 predict: cnnviz / fastest PyTorch "
                f"({C.ENGINES[key][0]}) >= 1: measured {ratio:.2f} "
                f"({'met' if ratio >= 1 else 'not met'})"
            )

    C.print_speed_report(rows, notes)
    payload = {
        "benchmark": "predict_speed",
        "command": C.command_line("predict_speed.py", argv),
        "settings": {
            "model": args.model,
            "batch_sizes": args.batch_sizes,
            "samples": args.samples or AUTO_SAMPLES[args.model],
            "run_seconds": args.run_seconds,
            "repeats": args.repeats,
            "engines": args.engines,
            "seed": args.seed,
            "dtype": "float32",
        },
        "max_abs_probability_difference_vs_cnnviz": agree,
        "results": results,
        "targets": notes,
    }
    C.write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
