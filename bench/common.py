"""Shared helpers for the benchmark scripts in bench/ (issue 3).

- data: MNIST from cnnviz's bundled copy, scaled the tutorial's way (x / 255 - 0.5);
- the same network in cnnviz, PyTorch and Keras (torch backend) with IDENTICAL initial weights:
  the cnnviz model is built first and its weights are copied into the others;
- detection of torch / keras (a missing one gives "not installed" rows, never a crash);
- timing (time.perf_counter), interleaved round-robin repeats, statistics,
  a markdown table printer and JSON output (--json PATH).

Layouts (all float32):

==========  ====================  ===================  ====================
            images                conv kernel          dense kernel
==========  ====================  ===================  ====================
cnnviz      NHWC (N, 28, 28, 1)   (kh, kw, cin, F)     (in, out)
Keras       NHWC (channels_last)  (kh, kw, cin, F)     (in, out)
PyTorch     NCHW (N, 1, 28, 28)   (F, cin, kh, kw)     Linear.weight (out, in)
==========  ====================  ===================  ====================

cnnviz and Keras flatten NHWC feature maps, so the PyTorch model permutes its NCHW maps to
NHWC before flattening: then Dense/Linear weights copy over with a plain transpose.

Run the scripts from the repository root, e.g. ``python bench/train_speed.py``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/x.py` puts bench/ (not the root) on sys.path
    sys.path.insert(0, str(ROOT))

# Keras 3 must learn its backend before it is first imported.
os.environ["KERAS_BACKEND"] = "torch"

from cnnviz.data import mnist  # noqa: E402
from cnnviz.nn.recipes import (  # noqa: E402
    DEFAULT_FILTERS,
    TrainingConfig,
    build_model,
    scale_images,  # noqa: E402
)

EPOCH = 60_000  # images in one MNIST training epoch
CORES = os.cpu_count() or 1
_START = {
    "time": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    "loadavg_1m": round(os.getloadavg()[0], 2),
}

# ---------------------------------------------------------------------------------------------
# data


def load_mnist(n: int, offset: int = 0, split: str = "train"):
    """The first ``n`` MNIST images from ``offset``: (x_uint8 (n, 28, 28), x (n, 28, 28, 1)
    float32 = x_uint8 / 255 - 0.5, y int64 (n,))."""
    (xtr, ytr), (xte, yte) = mnist.load_data_shared()
    xs, ys = (xtr, ytr) if split == "train" else (xte, yte)
    if offset + n > len(xs):
        raise SystemExit(f"MNIST {split} has {len(xs)} images; asked for {offset + n}.")
    xu8 = np.asarray(xs[offset : offset + n])
    x = scale_images(xu8)
    y = np.asarray(ys[offset : offset + n]).astype(np.int64)
    return xu8, np.ascontiguousarray(x), y


# ---------------------------------------------------------------------------------------------
# availability


def have(module: str) -> bool:
    """Whether ``module`` can be imported here (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def torch_or_none():
    """The torch module, or None when it is not installed."""
    if not have("torch"):
        return None
    import torch

    return torch


_KERAS_ERROR: list[str] = []


def keras_or_none():
    """Keras 3 on the torch backend, or None (reason in keras_missing_reason())."""
    if not have("keras") or not have("torch"):
        _KERAS_ERROR[:] = ["not installed"]
        return None
    try:
        import keras
    except Exception as e:  # a broken install should not stop the other rows
        _KERAS_ERROR[:] = [f"import failed: {e}"]
        return None
    if not keras.__version__.startswith("3") or keras.backend.backend() != "torch":
        _KERAS_ERROR[:] = [f"needs Keras 3 on torch, found {keras.__version__}"]
        return None
    return keras


def keras_missing_reason() -> str:
    return _KERAS_ERROR[0] if _KERAS_ERROR else "not installed"


# ---------------------------------------------------------------------------------------------
# models


def build_cnnviz(model: str = "tutorial", seed: int = 0, optimizer: str | None = None, lr=None):
    """The cnnviz network, compiled. tutorial: SGD(0.01); strong: Adam(0.001) unless given."""
    optimizer = optimizer or ("sgd" if model == "tutorial" else "adam")
    lr = lr if lr is not None else (0.01 if optimizer == "sgd" else 0.001)
    recipe = TrainingConfig(
        architecture=model,
        filters=DEFAULT_FILTERS[model],
        optimizer=optimizer,
        learning_rate=lr,
        seed=seed,
    )
    return build_model(recipe)


def check_same_weights(a, b) -> None:
    """Stop (not a timing assertion) if two cnnviz models do not start from the same weights."""
    wa, wb = a.get_weights(), b.get_weights()
    if len(wa) != len(wb) or any(not np.array_equal(u, v) for u, v in zip(wa, wb, strict=True)):
        raise SystemExit("The seeded cnnviz models differ: the benchmark would not be fair.")


def _layer_specs(net) -> list[tuple[str, dict, dict]]:
    """(kind, config, params) for each layer of a cnnviz Sequential."""
    return [(layer.kind, layer.get_config(), layer.params) for layer in net.layers]


def torch_from_cnnviz(net, torch=None):
    """A torch.nn.Sequential computing the same function as ``net`` (logits, no softmax: use
    CrossEntropyLoss), taking NCHW float32 input, with ``net``'s weights copied in."""
    torch = torch or torch_or_none()
    nn = torch.nn

    class NHWCFlatten(nn.Module):
        """(N, C, H, W) -> (N, H*W*C) in cnnviz / Keras order."""

        def forward(self, x):
            return x.permute(0, 2, 3, 1).flatten(1)

    mods = []
    cin = net.layers[0].input_shape[2]
    specs = _layer_specs(net)
    for i, (kind, cfg, params) in enumerate(specs):
        last = i == len(specs) - 1
        if kind == "Conv2D":
            kh, kw = cfg["kernel_size"]
            if cfg["padding"] == "same" and cfg["strides"] != 1:
                raise NotImplementedError("'same' padding with strides > 1 is not converted")
            conv = nn.Conv2d(
                cin,
                cfg["filters"],
                (kh, kw),
                stride=cfg["strides"],
                padding=0 if cfg["padding"] == "valid" else "same",
                bias=cfg["use_bias"],
            )
            with torch.no_grad():
                k = params["kernel"]  # (kh, kw, cin, F) -> (F, cin, kh, kw)
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1))))
                if cfg["use_bias"]:
                    conv.bias.copy_(torch.from_numpy(params["bias"].copy()))
            mods.append(conv)
            if cfg["activation"] == "relu":
                mods.append(nn.ReLU())
            cin = cfg["filters"]
        elif kind == "MaxPooling2D":
            mods.append(nn.MaxPool2d(cfg["pool_size"]))
        elif kind == "AveragePooling2D":
            mods.append(nn.AvgPool2d(cfg["pool_size"]))
        elif kind == "Flatten":
            mods.append(NHWCFlatten())
        elif kind == "ReLU":
            mods.append(nn.ReLU())
        elif kind == "Dense":
            k = params["kernel"]  # (in, out) -> Linear.weight (out, in)
            lin = nn.Linear(k.shape[0], k.shape[1], bias=cfg["use_bias"])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(k.T)))
                if cfg["use_bias"]:
                    lin.bias.copy_(torch.from_numpy(params["bias"].copy()))
            mods.append(lin)
            if cfg["activation"] == "relu":
                mods.append(nn.ReLU())
            elif cfg["activation"] == "softmax" and not last:
                mods.append(nn.Softmax(dim=1))
        else:
            raise NotImplementedError(f"no PyTorch equivalent written for {kind}")
    return nn.Sequential(*mods)


def torch_optimizer(net, tmodel, torch=None):
    """The PyTorch twin of ``net``'s optimizer (same learning rate; Keras's Adam epsilon)."""
    torch = torch or torch_or_none()
    opt = net.optimizer
    if opt.name == "sgd":
        return torch.optim.SGD(tmodel.parameters(), lr=opt.learning_rate, momentum=opt.momentum)
    return torch.optim.Adam(
        tmodel.parameters(),
        lr=opt.learning_rate,
        betas=(opt.beta_1, opt.beta_2),
        eps=opt.epsilon,
    )


def keras_from_cnnviz(net, keras=None):
    """A compiled keras.Sequential (torch backend) equal to ``net``, with its weights."""
    keras = keras or keras_or_none()
    L = keras.layers
    layers = [keras.Input(shape=tuple(net.layers[0].input_shape))]
    for kind, cfg, _ in _layer_specs(net):
        if kind == "Conv2D":
            layers.append(
                L.Conv2D(
                    cfg["filters"],
                    tuple(cfg["kernel_size"]),
                    strides=cfg["strides"],
                    padding=cfg["padding"],
                    use_bias=cfg["use_bias"],
                    activation=cfg["activation"],
                )
            )
        elif kind == "MaxPooling2D":
            layers.append(L.MaxPooling2D(cfg["pool_size"]))
        elif kind == "AveragePooling2D":
            layers.append(L.AveragePooling2D(cfg["pool_size"]))
        elif kind == "Flatten":
            layers.append(L.Flatten())
        elif kind == "ReLU":
            layers.append(L.ReLU())
        elif kind == "Dense":
            layers.append(
                L.Dense(cfg["units"], activation=cfg["activation"], use_bias=cfg["use_bias"])
            )
        else:
            raise NotImplementedError(f"no Keras equivalent written for {kind}")
    kmodel = keras.Sequential(layers)
    kmodel.set_weights(net.get_weights())  # same layout and order: kernel, bias per layer
    opt = net.optimizer
    if opt.name == "sgd":
        kopt = keras.optimizers.SGD(learning_rate=opt.learning_rate, momentum=opt.momentum)
    else:
        kopt = keras.optimizers.Adam(
            learning_rate=opt.learning_rate,
            beta_1=opt.beta_1,
            beta_2=opt.beta_2,
            epsilon=opt.epsilon,
        )
    kmodel.compile(optimizer=kopt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return kmodel


def to_nchw(x_nhwc: np.ndarray, torch=None):
    """float32 NHWC numpy -> contiguous NCHW torch tensor (done once, outside the timings)."""
    torch = torch or torch_or_none()
    return torch.from_numpy(np.ascontiguousarray(x_nhwc.transpose(0, 3, 1, 2)))


# ---------------------------------------------------------------------------------------------
# timing and statistics


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes (time.perf_counter)."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def round_robin(
    runners: dict[str, Callable[[int], float]],
    repeats: int,
    n: int,
    batch: int,
    run_seconds: float = 1.0,
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Interleaved timing: runners a, b, c are called a, b, c, a, b, c, ... ``repeats`` times.

    Each runner takes a number of images m, trains (or predicts) over the first m images once,
    and returns samples/s. Before the timed rounds every runner is called twice on a few
    batches: the first call also warms up (imports, Keras building its step function,
    allocators); the faster of the two estimates its speed, from which m is chosen so that one
    run takes about ``run_seconds`` (between those few batches and ``n`` images;
    ``run_seconds`` <= 0 means m = n for everyone). Slow engines then cover fewer images;
    samples/s does not depend on m once a run is well past its fixed start-up cost.

    Returns (key -> samples/s of each repeat, key -> images per run).
    """
    w = min(n, -(-max(8 * batch, 16) // batch) * batch)
    sizes = {}
    for key, run in runners.items():
        rate = max(run(w), run(w))  # the faster: a busy moment must not shrink the runs
        m = n if run_seconds <= 0 else int(rate * run_seconds) // batch * batch
        sizes[key] = max(w, min(n, m))
    out: dict[str, list[float]] = {key: [] for key in runners}
    for r in range(repeats):
        for key, run in runners.items():
            out[key].append(run(sizes[key]))
        print(
            f"  repeat {r + 1}/{repeats}: "
            + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in out.items()),
            file=sys.stderr,
            flush=True,
        )
    return out, sizes


def summarize(rates: Sequence[float]) -> dict:
    """median / min / max of a list of samples-per-second values, and the implied epoch time."""
    med = statistics.median(rates)
    return {
        "median": med,
        "min": min(rates),
        "max": max(rates),
        "runs": list(rates),
        "epoch_seconds": EPOCH / med if med > 0 else None,
    }


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median over repeats of a[i] / b[i]: runs i of a and b were back to back, so this ratio
    is less sensitive to load that drifts during the benchmark than median(a) / median(b)."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------------------------------------
# the machine, tables, JSON


def machine_info() -> dict:
    """What the numbers were measured on (for the JSON and docs/performance.md)."""
    info = {
        "started": _START["time"],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cores": CORES,
        "loadavg_1m_at_start": _START["loadavg_1m"],
        "loadavg_1m_now": round(os.getloadavg()[0], 2),
        "numpy": np.__version__,
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE"),
    }
    try:
        import scipy

        info["scipy"] = scipy.__version__
    except ImportError:
        pass
    if have("threadpoolctl"):
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for d in threadpool_info()
        ]
    torch = torch_or_none()
    info["torch"] = torch.__version__ if torch else None
    if torch:
        info["torch_threads"] = torch.get_num_threads()
    info["keras"] = _keras_version()
    return info


def _keras_version() -> str | None:
    if not have("keras"):
        return None
    from importlib.metadata import version

    return version("keras")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A GitHub markdown table; numbers are formatted with thousands separators."""

    def cell(v) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            if v >= 100:
                return f"{v:,.0f}"
            if v >= 10:
                return f"{v:.1f}"
            return f"{v:.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: str | None, payload: dict) -> None:
    """Print the JSON payload, and also write it to ``path`` when given."""
    payload = {"machine": machine_info(), **payload}
    text = json.dumps(payload, indent=2, default=_json_default)
    if path:
        Path(path).write_text(text + "\n")
        print(f"\nJSON written to {path}")
    else:
        print("\n```json\n" + text + "\n```")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def command_line(script: str, argv) -> str:
    """The command that produced a result, for the JSON."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["python", f"bench/{script}", *args])


def int_list(text: str) -> list[int]:
    """'1,32' -> [1, 32] (for argparse)."""
    return [int(t) for t in text.split(",") if t.strip()]


def set_torch_threads(torch, n: int) -> None:
    if torch is not None and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def blas_limit(threads: int | None):
    """A context manager limiting NumPy's BLAS to ``threads`` (None: leave it alone)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


@contextlib.contextmanager
def cnnviz_blas(threads: int | None):
    """Run cnnviz on whole batches with its BLAS on ``threads`` threads (None: as shipped, i.e.
    the engine's own settings: fit splits a batch over 2 threads when that is measured faster,
    cnnviz.nn.set_train_threads / CNNVIZ_TRAIN_THREADS, and BLAS keeps 1 thread inside
    fit/predict/evaluate, set_blas_threads / CNNVIZ_BLAS_THREADS). Restores the defaults."""
    if threads is None:
        yield
        return
    import cnnviz.nn as cnn

    setter = getattr(cnn, "set_blas_threads", None)
    chunks = getattr(cnn, "set_train_threads", None)
    if setter is not None:
        setter(threads)
    if chunks is not None:
        chunks(1)
    try:
        with blas_limit(threads):
            yield
    finally:
        if setter is not None:
            setter(int(os.environ.get("CNNVIZ_BLAS_THREADS", "1")))
        if chunks is not None:
            chunks(os.environ.get("CNNVIZ_TRAIN_THREADS", "auto"))


BUSY_LOOP = """
import os, sys
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np
a = np.random.default_rng(0).random((300, 300))
while True:
    a @ a
"""


@contextlib.contextmanager
def busy(n: int):
    """``n`` other programs keeping a core busy (a 300x300 matrix product in a loop, one BLAS
    thread each) for the duration: the machine under load, the same for every engine."""
    import subprocess

    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(max(n, 0))]
    try:
        if procs:
            time.sleep(1.0)  # let them start
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


# Engines the speed scripts compare: key -> (label, threads). cnnviz's threads None: as
# shipped; a number: whole batches with BLAS on that many threads; torch/keras rows set
# torch.set_num_threads.
ENGINES = {
    "cnnviz": ("cnnviz", None),
    "cnnviz1": ("cnnviz, whole batches, BLAS 1 thread", 1),
    "cnnvizN": (f"cnnviz, whole batches, BLAS {CORES} threads", CORES),
    "torch": (f"PyTorch {CORES} threads", CORES),
    "torch1": ("PyTorch 1 thread", 1),
    "keras": (f"Keras 3 (torch) {CORES} threads", CORES),
    "keras1": ("Keras 3 (torch) 1 thread", 1),
}


def parse_engines(text: str, parser) -> list[str]:
    keys = [e.strip() for e in text.split(",") if e.strip()]
    unknown = set(keys) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(sorted(unknown))}; choose from {list(ENGINES)}")
    return keys


def engine_missing(key: str) -> str | None:
    """Why an engine cannot run here ("not installed", ...), or None when it can."""
    if key in ("cnnviz1", "cnnvizN") and not have("threadpoolctl"):
        return "threadpoolctl not installed"
    if key.startswith("torch") and not have("torch"):
        return "not installed"
    if key.startswith("keras") and keras_or_none() is None:
        return keras_missing_reason()
    return None


def best_torch(stats: dict) -> tuple[str, dict] | tuple[None, None]:
    """The faster of the PyTorch rows (by median): the baseline the issue's targets use."""
    rows = [(k, s) for k, s in stats.items() if k.startswith("torch")]
    return max(rows, key=lambda kv: kv[1]["median"]) if rows else (None, None)


def machine_line() -> str:
    """One line naming the machine, for the top of each script's markdown output."""
    m = machine_info()
    blas = m.get("blas") or [{}]
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores, load average {m['loadavg_1m_at_start']} "
        f"(1 min, at start); Python {m['python']}, NumPy {m['numpy']} "
        f"({blas[0].get('internal_api')} {blas[0].get('architecture')}, "
        f"{blas[0].get('num_threads')} threads), OPENBLAS_CORETYPE={m['OPENBLAS_CORETYPE']}, "
        f"torch {m['torch'] or 'not installed'}, keras {m['keras'] or 'not installed'}. "
        f"Started {m['started']}."
    )


SPEED_HEADERS = [
    "network",
    "batch",
    "engine",
    "images/run",
    "median samples/s",
    "min",
    "max",
    "s / 60k images",
    "cnnviz ÷ this",
    "paired ratio",
]

SPEED_LEGEND = (
    "'cnnviz ÷ this' = median cnnviz samples/s / median of that row; 'paired ratio' = median "
    "over repeats of the ratio of back-to-back runs (robust to load drifting during the run); "
    "'s / 60k images' = 60,000 / median samples/s."
)


def speed_rows(model: str, batch: int, keys, rates: dict, missing: dict, extra: dict):
    """Markdown rows and JSON records for one batch size of a speed benchmark."""
    stats = {k: summarize(v) for k, v in rates.items()}
    base = stats.get("cnnviz")
    rows, records = [], []
    for key in keys:
        label = ENGINES[key][0]
        record = {"model": model, "batch": batch, "engine": label, "key": key, **extra.get(key, {})}
        if key in missing:
            rows.append([model, batch, label, None, missing[key], None, None, None, None, None])
            records.append(record | {"missing": missing[key]})
            continue
        s = stats[key]
        ratio = paired = None
        if base and key != "cnnviz":
            ratio = base["median"] / s["median"]
            paired = paired_ratio(rates["cnnviz"], rates[key])
        rows.append(
            [
                model,
                batch,
                label,
                extra.get(key, {}).get("samples_per_run"),
                s["median"],
                s["min"],
                s["max"],
                s["epoch_seconds"],
                ratio,
                paired,
            ]
        )
        records.append(record | s | {"cnnviz_over_this": ratio, "cnnviz_over_this_paired": paired})
    return rows, records, stats


def measure_batches(args, make_runners, samples: int):
    """For each of ``args.batch_sizes``: build the engines' runners, time them round-robin
    and tabulate. Returns (rows, results, per-batch stats {batch: stats})."""
    rows, results, per_batch = [], [], {}
    for batch in args.batch_sizes:
        print(f"batch {batch}: up to {samples} images per run", file=sys.stderr, flush=True)
        runners, missing = make_runners(args, batch, samples)
        rates, sizes = round_robin(runners, args.repeats, samples, batch, args.run_seconds)
        extra = {k: {"samples_per_run": m} for k, m in sizes.items()}
        r, rec, stats = speed_rows(args.model, batch, args.engines, rates, missing, extra)
        rows += r
        results += rec
        per_batch[batch] = stats
    return rows, results, per_batch


def print_speed_report(rows, notes) -> None:
    """The markdown table, its legend and the target lines."""
    print(markdown_table(SPEED_HEADERS, rows))
    print("\n" + SPEED_LEGEND)
    for note in notes:
        print(f"\n{note}")
