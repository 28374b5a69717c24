"""Same numbers, not just same speed: cnnviz and PyTorch loss after each of 100 SGD steps.

    python bench/agreement.py                       # tutorial network, batch 32, SGD lr 0.01
    python bench/agreement.py --model strong --steps 50 --json agreement.json

Both start from the same weights (cnnviz's initial weights, copied into PyTorch) and see the
same batches in the same order (MNIST training images 0-31, 32-63, ..., x / 255 - 0.5, no
shuffling). Each step's loss is the batch's mean cross-entropy BEFORE that step's update
(what ``train_on_batch`` returns). The script prints the largest relative difference
|L_cnnviz - L_torch| / |L_torch| over the steps (issue 3's target: <= 1e-4), the final weights'
largest difference for ``train_on_batch`` and for ``fit(shuffle=False)``, and, as a yardstick
for float32 rounding, the same comparison of float32 PyTorch against float64 PyTorch.
"""

from __future__ import annotations

import argparse

import common as C
import numpy as np

TARGET = 1e-4


def torch_losses(torch, net, x, y, steps, batch, dtype):
    """PyTorch twin of ``net`` (weights copied), trained ``steps`` SGD steps: (losses, weights
    in cnnviz layout)."""
    tmodel = C.torch_from_cnnviz(net, torch).to(dtype)
    opt = C.torch_optimizer(net, tmodel, torch)
    xt = C.to_nchw(x, torch).to(dtype)
    yt = torch.from_numpy(y)
    losses = []
    for s in range(steps):
        sl = slice(s * batch, (s + 1) * batch)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(xt[sl]), yt[sl])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), torch_weights_as_cnnviz(tmodel, torch)


def torch_weights_as_cnnviz(tmodel, torch) -> list[np.ndarray]:
    """Parameters of a model made by common.torch_from_cnnviz, in cnnviz's order and layout."""
    out = []
    for mod in tmodel:
        if isinstance(mod, torch.nn.Conv2d):
            out.append(mod.weight.detach().double().numpy().transpose(2, 3, 1, 0))
        elif isinstance(mod, torch.nn.Linear):
            out.append(mod.weight.detach().double().numpy().T)
        else:
            continue
        if mod.bias is not None:
            out.append(mod.bias.detach().double().numpy())
    return out


def max_weight_diff(a, b) -> float:
    """Largest |a - b| over lists of arrays of the same shapes."""
    pairs = zip(a, b, strict=True)
    return max(float(np.abs(np.asarray(u, np.float64) - v).max()) for u, v in pairs)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", choices=["tutorial", "strong"], default="tutorial")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = p.parse_args(argv)
    steps, batch = args.steps, args.batch_size

    print(C.machine_line())
    _, x, y = C.load_mnist(steps * batch)
    net = C.build_cnnviz(args.model, seed=args.seed, optimizer=args.optimizer, lr=args.lr)
    initial = net.get_weights()
    settings = {
        "model": args.model,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "steps": steps,
        "batch_size": batch,
        "seed": args.seed,
    }
    torch = C.torch_or_none()
    if torch is None:
        print("\nPyTorch is not installed: pip install -r requirements-bench.txt")
        C.write_json(args.json, {"benchmark": "agreement", "settings": settings, "torch": None})
        return {}
    C.set_torch_threads(torch, 1)  # fast on a busy machine; the numbers barely depend on it

    # the PyTorch runs start from the untrained weights
    t32, w32 = torch_losses(torch, net, x, y, steps, batch, torch.float32)
    t64, w64 = torch_losses(torch, net, x, y, steps, batch, torch.float64)

    cz = np.array(
        [net.train_on_batch(x[s * batch : (s + 1) * batch], y[s * batch : (s + 1) * batch])[0]
         for s in range(steps)]
    )  # fmt: skip
    w_tob = net.get_weights()
    fit_net = C.build_cnnviz(args.model, seed=args.seed, optimizer=args.optimizer, lr=args.lr)
    fit_net.set_weights(initial)
    fit_net.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    w_fit = fit_net.get_weights()

    rel = np.abs(cz - t32) / np.abs(t32)
    rel64 = np.abs(cz - t64) / np.abs(t64)
    rel_t = np.abs(t32 - t64) / np.abs(t64)
    shown = sorted({1, 2, 5, 10, 25, 50, steps} & set(range(1, steps + 1)))
    rows = [[s, float(cz[s - 1]), float(t32[s - 1]), float(rel[s - 1]), float(rel64[s - 1])]
            for s in shown]  # fmt: skip
    headers = ["step", "cnnviz loss", "PyTorch loss", "rel. diff", "rel. diff vs float64"]
    print(
        f"\nLoss before each SGD step: {args.model} network, {args.optimizer} lr {args.lr}, "
        f"batch {batch}, {steps} steps, float32 (first {steps * batch} training images).\n"
    )
    print(_table(headers, rows))
    summary = {
        "max_rel_diff_cnnviz_vs_torch32": float(rel.max()),
        "step_of_max": int(rel.argmax()) + 1,
        "max_rel_diff_cnnviz_vs_torch64": float(rel64.max()),
        "max_rel_diff_torch32_vs_torch64": float(rel_t.max()),
        "final_weights_max_abs_diff_train_on_batch_vs_torch32": max_weight_diff(w_tob, w32),
        "final_weights_max_abs_diff_fit_vs_torch32": max_weight_diff(w_fit, w32),
        "final_weights_max_abs_diff_torch32_vs_torch64": max_weight_diff(w32, w64),
        "target": TARGET,
        "met": bool(rel.max() <= TARGET),
    }
    print(
        f"\nMax relative loss difference cnnviz vs PyTorch over {steps} steps: "
        f"{summary['max_rel_diff_cnnviz_vs_torch32']:.2e} (step {summary['step_of_max']}); "
        f"target <= {TARGET:.0e}: {'met' if summary['met'] else 'NOT met'}.\n"
        f"Yardstick, float32 PyTorch vs float64 PyTorch: "
        f"{summary['max_rel_diff_torch32_vs_torch64']:.2e}; cnnviz vs float64 PyTorch: "
        f"{summary['max_rel_diff_cnnviz_vs_torch64']:.2e}.\n"
        f"Final weights, max |difference| vs PyTorch float32: train_on_batch "
        f"{summary['final_weights_max_abs_diff_train_on_batch_vs_torch32']:.2e}, "
        f"fit(shuffle=False) {summary['final_weights_max_abs_diff_fit_vs_torch32']:.2e} "
        f"(float32 vs float64 PyTorch: "
        f"{summary['final_weights_max_abs_diff_torch32_vs_torch64']:.2e})."
    )
    payload = {
        "benchmark": "agreement",
        "command": C.command_line("agreement.py", argv),
        "settings": settings,
        "summary": summary,
        "losses": {"cnnviz": cz, "torch_float32": t32, "torch_float64": t64},
    }
    C.write_json(args.json, payload)
    return payload


def _table(headers, rows) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for s, a, b, r, r64 in rows:
        lines.append(f"| {s} | {a:.7f} | {b:.7f} | {r:.2e} | {r64:.2e} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
