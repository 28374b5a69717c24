"""A/B microbenchmarks for the stronger network's hot spots (issue 14), batch 32 by default.

    python bench/ab_candidates.py                 # every candidate, 200 alternations each
    python bench/ab_candidates.py --only adam,bias --reps 500

Each candidate times variant A and variant B alternately (A, B, A, B, ...) ``--reps`` times on
the same arrays (the shapes of the stronger network's layers at ``--batch``) and prints the
median of each in microseconds. Single-thread variants are timed in CPU time
(``time.process_time``: other work on a shared machine changes it less than wall time); the
2-thread BLAS variants in wall time (CPU time would count both threads). The 1-minute load
average is printed with the table. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import common as C
import numpy as np
from numpy.lib.stride_tricks import as_strided
from threadpoolctl import ThreadpoolController

F32 = np.float32
CTRL = ThreadpoolController()
BLAS = next(lib for lib in CTRL.lib_controllers if lib.user_api == "blas")


def ab(fa, fb, reps: int, clock=time.process_time) -> tuple[float, float]:
    """Median microseconds of fa and fb, called alternately ``reps`` times each."""
    fa(), fb()  # warm-up
    ta, tb = [], []
    for _ in range(reps):
        t0 = clock()
        fa()
        t1 = clock()
        fb()
        t2 = clock()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return statistics.median(ta) * 1e6, statistics.median(tb) * 1e6


def arrays(n: int, rng):
    """The stronger network's activations at batch n (conv1 26x26x32, conv2 11x11x64)."""
    a = {}
    a["x2"] = rng.standard_normal((n, 13, 13, 32)).astype(F32)  # conv2's input
    a["k2"] = (rng.standard_normal((3, 3, 32, 64)) * 0.05).astype(F32)
    a["dz2"] = rng.standard_normal((n * 121, 64)).astype(F32)
    a["dz1"] = rng.standard_normal((n * 676, 32)).astype(F32)
    a["out1"] = np.maximum(rng.standard_normal((n, 26, 26, 32)), 0).astype(F32)
    a["dy1"] = rng.standard_normal((n, 26, 26, 32)).astype(F32)
    return a


def windows(x):
    n, h, w, c = x.shape
    b, r, q, ch = x.strides
    return as_strided(x, (n, h - 2, w - 2, 3, 3, c), (b, r, q, r, q, ch))


def col2im(dcols, shape):
    n, hp, wp, c = shape
    ho, wo = hp - 2, wp - 2
    dcols = dcols.reshape(n, ho, wo, 3, 3, c)
    dx = np.zeros(shape, F32)
    for i in range(3):
        for j in range(3):
            dx[:, i : i + ho, j : j + wo, :] += dcols[:, :, :, i, j, :]
    return dx


def shifted_products(dz, k, shape):
    n, hp, wp, c = shape
    ho, wo = hp - 2, wp - 2
    dz4 = dz.reshape(n, ho, wo, -1)
    dx = np.zeros(shape, F32)
    for i in range(3):
        for j in range(3):
            dx[:, i : i + ho, j : j + wo, :] += dz4 @ k[i, j].T
    return dx


# Winograd F(2x2, 3x3) (Lavin & Gray 2016): a 2x2 output tile from a 4x4 input tile with 16
# multiplications per channel pair instead of 36: Y = A^T [(G g G^T) * (B^T d B)] A.
WINO_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], F32)
WINO_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], F32)
WINO_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], F32)


def winograd_forward(x, k):
    """Valid 3x3 convolution of x (N, H, W, C) with k (3, 3, C, F) by Winograd F(2x2, 3x3), the
    transforms and the 16 products as matrix products: (N, H-2, W-2, F)."""
    n, h, w, c = x.shape
    f = k.shape[3]
    ho, wo = h - 2, w - 2
    th, tw = -(-ho // 2), -(-wo // 2)  # tiles down and across (the last may hang over)
    xp = np.pad(x, ((0, 0), (0, 2 * th + 2 - h), (0, 2 * tw + 2 - w), (0, 0)))
    b, r, q, ch = xp.strides
    # the 16 positions of every 4x4 tile, gathered position-major: (16, N*th*tw*C), one copy
    tiles = as_strided(xp, (4, 4, n, th, tw, c), (r, q, b, 2 * r, 2 * q, ch)).reshape(16, -1)
    bb = np.kron(WINO_BT, WINO_BT)  # vec(B^T d B) = kron(B^T, B^T) @ vec(d)
    v = (bb @ tiles).reshape(16, -1, c)  # (16, N*th*tw, C)
    u = np.einsum("ij,jkcf,lk->ilcf", WINO_G, k, WINO_G).reshape(16, c, f)  # (16, C, F)
    m = np.matmul(v, u)  # 16 products (N*th*tw, C) @ (C, F)
    aa = np.kron(WINO_AT, WINO_AT)  # (4, 16): vec(A^T m A) = kron(A^T, A^T) @ vec(m)
    y = (aa @ m.reshape(16, -1)).reshape(2, 2, n, th, tw, f)
    y = y.transpose(2, 3, 0, 4, 1, 5).reshape(n, 2 * th, 2 * tw, f)
    return y[:, :ho, :wo]


class AdamNow:
    """The update as in cnnviz/nn/optimizers.py before issue 14 (lr_t a NumPy float64)."""

    def __init__(self, params):
        self.t, self.m = 0, [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, pairs):
        self.t += 1
        b1, b2, t = 0.9, 0.999, self.t
        lr_t = 0.001 * np.sqrt(1 - b2**t) / (1 - b1**t)
        for (w, g), m, v in zip(pairs, self.m, self.v, strict=True):
            m += (1 - b1) * (g - m)
            v += (1 - b2) * (g * g - v)
            w -= lr_t * m / (np.sqrt(v) + 1e-7)


class AdamF32(AdamNow):
    """float32 throughout (lr_t a Python float), the temporaries reused."""

    def step(self, pairs):
        self.t += 1
        b1, b2, t = 0.9, 0.999, self.t
        lr_t = 0.001 * (1 - b2**t) ** 0.5 / (1 - b1**t)
        for (w, g), m, v in zip(pairs, self.m, self.v, strict=True):
            m += (1 - b1) * (g - m)
            v += (1 - b2) * (g * g - v)
            d = np.sqrt(v)
            d += 1e-7
            np.divide(m, d, out=d)
            d *= lr_t
            w -= d


def pool_backward_broadcast(x, out, dy):
    """Max-pool backward by one broadcast comparison over (N, H', 2, W', 2, C), ties to the
    first position by 'greater' against the positions already taken."""
    n, ho, wo, c = out.shape
    hit = np.equal(x.reshape(n, ho, 2, wo, 2, c), out[:, :, None, :, None, :])
    h = [hit[:, :, i, :, j, :] for i in range(2) for j in range(2)]
    taken = h[0].copy()
    for k in range(1, 4):
        np.greater(h[k], taken, out=h[k])
        if k < 3:
            taken |= h[k]
    return np.multiply(hit, dy[:, :, None, :, None, :]).reshape(x.shape)


def candidates(n: int, reps: int, rng, only=()):
    BLAS.set_num_threads(1)  # as fit runs; only the "threads" candidate switches to 2
    a = arrays(n, rng)
    x2, k2, dz2, dz1 = a["x2"], a["k2"], a["dz2"], a["dz1"]
    k2m = k2.reshape(-1, 64)
    cols2 = windows(x2).reshape(-1, 288)
    buf = np.empty((n, 11, 11, 3, 3, 32), F32)
    ones1 = np.ones(len(dz1), F32)
    ones2 = np.ones(len(dz2), F32)
    out = {}

    def run(name, what_a, fa, what_b, fb, clock=time.process_time):
        if only and name not in only:
            return
        ta, tb = ab(fa, fb, reps, clock)
        out[name] = (what_a, ta, what_b, tb)

    run("im2col", "windows.reshape copy (new array)", lambda: windows(x2).reshape(-1, 288),
        "copy into a preallocated patch matrix", lambda: np.copyto(buf, windows(x2)))  # fmt: skip
    run("bias", "conv1 dz.sum(axis=0)", lambda: dz1.sum(axis=0),
        "conv1 ones @ dz (BLAS gemv)", lambda: ones1 @ dz1)  # fmt: skip
    run("bias2", "conv2 dz.sum(axis=0)", lambda: dz2.sum(axis=0),
        "conv2 ones @ dz (BLAS gemv)", lambda: ones2 @ dz2)  # fmt: skip
    o1, d1 = a["out1"], a["dy1"]
    tmp = np.empty_like(d1)
    run("relu", "conv1 dy * (out > 0)", lambda: d1 * (o1 > 0),
        "np.multiply(dy, out > 0, out=buffer)",
        lambda: np.multiply(d1, o1 > 0, out=tmp))  # fmt: skip
    run("relu_where", "conv1 dy * (out > 0)", lambda: d1 * (o1 > 0),
        "np.where(out > 0, dy, 0)", lambda: np.where(o1 > 0, d1, F32(0)))  # fmt: skip
    ref = (windows(x2).reshape(-1, 288) @ k2m).reshape(n, 11, 11, 64)
    np.testing.assert_allclose(winograd_forward(x2, k2), ref, rtol=1e-4, atol=1e-4)
    run("winograd", "conv2 forward: im2col copy + GEMM (as shipped)",
        lambda: windows(x2).reshape(-1, 288) @ k2m,
        "Winograd F(2x2,3x3): transforms and 16 products as GEMMs",
        lambda: winograd_forward(x2, k2))  # fmt: skip
    run("col2im", "dcols GEMM + col2im (9 strided adds)",
        lambda: col2im(dz2 @ k2m.T, x2.shape),
        "nine shifted products dz @ k[i,j].T",
        lambda: shifted_products(dz2, k2, x2.shape))  # fmt: skip

    from cnnviz.nn import MaxPooling2D

    pool = MaxPooling2D(2)
    pool.build((26, 26, 32))
    px = a["out1"]  # a ReLU output: ties at 0 in many windows
    pout = pool.forward(px)
    pdy = rng.standard_normal(pout.shape).astype(F32)
    assert np.array_equal(pool._route_by_masks(pdy), pool_backward_broadcast(px, pout, pdy))
    run("pool", "pool1 backward: masks per window position (as shipped)",
        lambda: pool._route_by_masks(pdy), "one broadcast comparison + ties",
        lambda: pool_backward_broadcast(px, pout, pdy))  # fmt: skip

    # threads: wall clock; 1 vs 2 BLAS threads for conv2's three GEMMs
    def gemms():
        cols2 @ k2m
        cols2.T @ dz2
        dz2 @ k2m.T

    def gemms_2threads():
        BLAS.set_num_threads(2)
        gemms()
        BLAS.set_num_threads(1)

    run("threads", "conv2's 3 GEMMs, 1 BLAS thread (wall)", gemms,
        "same, switched to 2 threads and back (wall)", gemms_2threads,
        time.perf_counter)  # fmt: skip
    run("switch", "nothing", lambda: None, "set_num_threads(2) then (1) (wall)",
        lambda: (BLAS.set_num_threads(2), BLAS.set_num_threads(1)), time.perf_counter)  # fmt: skip
    shapes = [(3, 3, 1, 32), (32,), (3, 3, 32, 64), (64,), (1600, 10), (10,)]
    ps = [rng.standard_normal(s).astype(F32) for s in shapes]
    gs = [rng.standard_normal(s).astype(F32) * 0.01 for s in shapes]
    opt_a, opt_b = AdamNow(ps), AdamF32(ps)
    pa, pb = [p.copy() for p in ps], [p.copy() for p in ps]
    run("adam", "Adam step as shipped (float64 temporaries)",
        lambda: opt_a.step(list(zip(pa, gs, strict=True))),
        "float32, reused temporaries",
        lambda: opt_b.step(list(zip(pb, gs, strict=True))))  # fmt: skip
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--only", default="", help="comma-separated candidate names")
    args = ap.parse_args(argv)
    print(C.machine_line())
    load0 = os.getloadavg()[0]
    only = [k for k in args.only.split(",") if k]
    res = candidates(args.batch, args.reps, np.random.default_rng(0), only)
    rows = [[k, wa, round(ta, 1), wb, round(tb, 1), f"{ta / tb:.2f}x"] for k, (wa, ta, wb, tb) in
            res.items()]  # fmt: skip
    print(f"\nbatch {args.batch}, median of {args.reps} alternations; load average "
          f"{load0:.2f} -> {os.getloadavg()[0]:.2f}\n")  # fmt: skip
    print(C.markdown_table(["candidate", "A", "A us", "B", "B us", "A / B"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
