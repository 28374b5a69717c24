"""Sequential: a stack of layers with Keras's compile / fit / evaluate / predict.

>>> model = Sequential([Conv2D(8, 3, input_shape=(28, 28, 1), use_bias=False),
...                     MaxPooling2D(pool_size=2), Flatten(), Dense(10, activation="softmax")])
>>> model.compile(SGD(learning_rate=0.001), loss="categorical_crossentropy", metrics=["accuracy"])
>>> history = model.fit(x, to_categorical(y), batch_size=1, epochs=3, validation_data=(xv, yv))

One training step is ``forward`` (every layer keeps its ``output``), the loss and its gradient
dL/dlogits, ``backward`` through the layers in reverse (every layer fills ``grads``), and one
optimizer step that updates the parameters in place.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from cnnviz.errors import InputError
from cnnviz.nn import losses, optimizers
from cnnviz.nn.callbacks import Callback, History
from cnnviz.nn.layers import LAYER_CLASSES, Layer
from cnnviz.nn.npz import save_model
from cnnviz.nn.threads import blas_limit
from cnnviz.nn.trace import Trace, trace_layers
from cnnviz.validate import as_batch, as_labels

__all__ = ["Sequential", "as_batch", "as_labels", "set_random_seed"]

_GLOBAL_SEED: list[int | None] = [None]


def set_random_seed(seed: int | None) -> None:
    """Make models built afterwards (and their shuffling) reproducible, like keras.utils's."""
    _GLOBAL_SEED[0] = seed


class Sequential:
    """A linear stack of layers. Inputs (N, H, W) or (N, H, W, C); outputs (N, classes)."""

    def __init__(
        self, layers: list[Layer] | None = None, name: str = "sequential", seed: int | None = None
    ):
        self.name = name
        self.layers: list[Layer] = []
        self.seed = _GLOBAL_SEED[0] if seed is None else seed
        self.rng = np.random.default_rng(self.seed)
        self.optimizer = None
        self.loss = "categorical_crossentropy"
        self.metrics = ["accuracy"]
        self.stop_training = False
        self.built = False
        self.metadata: dict = {}
        for layer in layers or []:
            self.add(layer)

    # --- building ----------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise InputError(f"Sequential takes cnnviz.nn layers, not {type(layer).__name__}.")
        self.layers.append(layer)
        if len(self.layers) == 1 and layer.input_shape is not None:
            self.build(layer.input_shape)
        elif self.built:
            layer.build(self.layers[-2].output_shape, self.rng)
            self._name_layers()

    def build(self, input_shape: tuple) -> None:
        """Create every layer's parameters for one sample's shape, e.g. (28, 28, 1)."""
        shape = tuple(int(s) for s in input_shape)
        if len(shape) == 2:
            shape = shape + (1,)
        for layer in self.layers:
            layer.build(shape, self.rng)
            shape = layer.output_shape
        self.built = True
        self._name_layers()

    def _name_layers(self) -> None:
        counts: dict[str, int] = {}
        for layer in self.layers:
            base = {
                "Conv2D": "conv2d",
                "MaxPooling2D": "max_pooling2d",
                "Dense": "dense",
                "AveragePooling2D": "average_pooling2d",
                "Flatten": "flatten",
                "ReLU": "re_lu",
            }.get(layer.kind, layer.kind.lower())
            k = counts.get(base, 0)
            counts[base] = k + 1
            if layer.name is None:
                layer.name = base if k == 0 else f"{base}_{k}"
        for i, layer in enumerate(self.layers):
            layer.need_input_grad = i > 0

    def _ensure_built(self, x: np.ndarray) -> None:
        if not self.built:
            self.build(x.shape[1:])
        elif tuple(x.shape[1:]) != tuple(self.layers[0].input_shape):
            raise InputError(
                f"This model takes images shaped {self.layers[0].input_shape}, not {x.shape[1:]}."
            )

    @property
    def input_shape(self) -> tuple | None:
        return self.layers[0].input_shape if self.layers else None

    @property
    def output_shape(self) -> tuple | None:
        return self.layers[-1].output_shape if self.built else None

    def compile(
        self,
        optimizer="sgd",
        loss: str = "categorical_crossentropy",
        metrics: list[str] | None = None,
    ) -> None:
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.check_loss(loss)
        self.metrics = list(metrics or [])

    # --- one step ------------------------------------------------------------------------
    def forward(self, x, training: bool = False) -> np.ndarray:
        """x (N, H, W[, C]) -> the last layer's output (N, classes); every layer keeps .output."""
        x = as_batch(x)
        self._ensure_built(x)
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    __call__ = forward

    def compute_gradients(self, x, y, input_grad: bool = False) -> float:
        """Forward and backward on one batch; returns the mean loss and fills every layer's grads.

        y: int labels (N,) or one-hot / target rows (N, classes). With ``input_grad`` the first
        layer also computes dL/d(input) (a saliency map); training does not need it.
        """
        x, target = self._checked(x, y)
        self.layers[0].need_input_grad = input_grad
        try:
            return self._gradients(x, target)
        finally:
            self.layers[0].need_input_grad = False

    def _checked(self, x, y) -> tuple[np.ndarray, np.ndarray | None]:
        """(images float32 (N, H, W, C), labels as as_labels gives them or None), checked."""
        x = as_batch(x)
        self._ensure_built(x)
        if y is None:
            return x, None
        target = as_labels(y, self.layers[-1].output_shape[0])
        if len(target) != len(x):
            raise InputError(f"There are {len(x)} images but {len(target)} labels.")
        return x, target

    def trace(self, x, y=None) -> Trace:
        """Look inside: one record per layer (input, output; with labels y the gradients too).

        x: (N, H, W[, C]); y: labels (N,) or one-hot (N, classes), optional. The model is left
        untouched (no caches, no gradients, same weights), so threads may trace a shared model
        at once; see cnnviz/nn/trace.py for the records.
        """
        return trace_layers(self.layers, *self._checked(x, y))

    def _gradients(self, x: np.ndarray, target: np.ndarray) -> float:
        """compute_gradients without the checks: x float32 (N, H, W, C), target validated."""
        for layer in self.layers:
            x = layer.forward(x, True)
        loss, grad = self._loss_and_grad(x, target)
        last = self.layers[-1]
        grad = last.backward_logits(grad) if self._fused_softmax() else last.backward(grad)
        for layer in reversed(self.layers[:-1]):
            grad = layer.backward(grad)
        return loss

    def _fused_softmax(self) -> bool:
        last = self.layers[-1]
        return (
            getattr(last, "activation", None) == "softmax" or getattr(last, "logits", None) is None
        )

    def _loss_and_grad(self, probs: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
        return losses.last_layer_loss(self.layers[-1], probs, target)

    def trainable_pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(layer.params[k], layer.grads[k]) for layer in self.layers for k in layer.params]

    def apply_gradients(self) -> None:
        """One optimizer step with the gradients of the last compute_gradients."""
        if self.optimizer is None:
            raise InputError("Compile the model (choose an optimizer) before training it.")
        self.optimizer.step(self.trainable_pairs())

    def train_on_batch(self, x, y) -> tuple[float, float]:
        """One training step on a batch; returns (loss, accuracy) measured before the update."""
        with blas_limit():
            loss = self.compute_gradients(x, y)
            acc = self._batch_accuracy(self.layers[-1].output, y)
            if np.isfinite(loss):
                self.apply_gradients()
        return loss, acc

    @staticmethod
    def _batch_accuracy(probs: np.ndarray, y) -> float:
        target = as_labels(y)
        labels = target if target.ndim == 1 else target.argmax(axis=1)
        return float((probs.argmax(axis=1) == labels).mean())

    # --- fit / evaluate / predict ------------------------------------------------------------
    def fit(
        self,
        x,
        y,
        batch_size: int = 32,
        epochs: int = 1,
        verbose: int = 1,
        validation_data: tuple | None = None,
        shuffle: bool = True,
        callbacks: list[Callback] | None = None,
        seed: int | None = None,
        initial_epoch: int = 0,
    ) -> History:
        """Train for ``epochs`` passes over (x, y); returns a History.

        x: images (N, H, W) or (N, H, W, C), any numeric dtype or an indexable that yields them
        (each batch becomes float32 as it is taken); y: labels (N,) or one-hot (N, classes).
        A loss that stops being finite stops training and restores the last weights that gave
        a finite loss (``history.diverged``, ``history.message``).
        """
        if self.optimizer is None:
            raise InputError("Compile the model (choose an optimizer) before training it.")
        n = len(x)
        if n == 0:
            raise InputError("There are no training images.")
        if len(y) != n:
            raise InputError(f"There are {n} images but {len(y)} labels.")
        batch_size = int(batch_size)
        epochs = int(epochs)
        if batch_size < 1:
            raise InputError("The batch size must be at least 1.")
        if epochs < 0:
            raise InputError("The number of epochs cannot be negative.")
        target = as_labels(y)
        self._ensure_built(as_batch(x[:1]))
        target = as_labels(target, self.layers[-1].output_shape[0])
        rng = np.random.default_rng(seed) if seed is not None else self.rng
        history = History()
        cbs = [history, *(callbacks or [])]
        for cb in cbs:
            cb.set_model(self)
        batch_cbs = [
            cb
            for cb in cbs
            if type(cb).on_batch_end is not Callback.on_batch_end or "on_batch_end" in vars(cb)
        ]
        self.stop_training = False
        self.history = history
        for cb in cbs:
            cb.on_train_begin({})
        # numpy's overflow warnings are off: a diverging run is caught by its loss instead
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), blas_limit():
            steps = -(-n // batch_size)
            snapshot = self.get_weights()
            for epoch in range(initial_epoch, initial_epoch + epochs):
                for cb in cbs:
                    cb.on_epoch_begin(epoch, {})
                if verbose:
                    print(f"Epoch {epoch + 1}/{initial_epoch + epochs}", flush=True)
                order = rng.permutation(n) if shuffle else np.arange(n)
                t0 = time.perf_counter()
                loss_sum = seen = 0.0
                correct = 0
                bar = _ProgressBar(n, verbose)
                for step, (xb, yb) in enumerate(_batches(x, target, order, batch_size)):
                    loss = self._gradients(xb, yb)
                    if not math.isfinite(loss):
                        self.set_weights(snapshot)
                        history.diverged = True
                        history.message = (
                            f"Training stopped at epoch {epoch + 1}, batch {step + 1}: the loss "
                            f"became {loss}, so the last weights with a finite loss were restored; "
                            "try a smaller learning rate."
                        )
                        self.stop_training = True
                        break
                    if step % 100 == 0:
                        snapshot = self.get_weights()
                    labels = yb if yb.ndim == 1 else yb.argmax(axis=1)
                    predicted = self.layers[-1].output.argmax(axis=1)
                    correct += int(np.count_nonzero(predicted == labels))
                    m = len(yb)
                    loss_sum += loss * m
                    seen += m
                    self.apply_gradients()
                    if batch_cbs or bar.due():
                        logs = {
                            "loss": loss_sum / seen,
                            "accuracy": correct / seen,
                            "samples": int(seen),
                            "seconds": time.perf_counter() - t0,
                            "batch_loss": loss,
                            "epoch": epoch,
                        }
                        bar.update(seen, logs)
                        for cb in batch_cbs:
                            cb.on_batch_end(step, logs)
                    if self.stop_training:
                        break
                if seen == 0:
                    break
                logs = {
                    "loss": loss_sum / seen,
                    "accuracy": correct / seen,
                    "samples": int(seen),
                    "seconds": time.perf_counter() - t0,
                }
                if validation_data is not None and not history.diverged:
                    vl, va = self.evaluate(*validation_data, verbose=0)
                    logs["val_loss"], logs["val_accuracy"] = vl, va
                bar.finish(seen, logs, steps)
                for cb in cbs:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    history.stopped_early = not history.diverged
                    break
            if history.diverged and verbose:
                print(history.message, flush=True)
        for cb in cbs:
            cb.on_train_end({"diverged": history.diverged})
        return history

    def predict(self, x, batch_size: int = 256, verbose: int = 0) -> np.ndarray:
        """x (N, H, W[, C]) -> class probabilities (N, classes), float32."""
        n = len(x)
        with blas_limit():
            outs = [self.forward(x[i : i + batch_size]).copy() for i in range(0, n, batch_size)]
        if not outs:
            raise InputError("There are no images to predict.")
        return np.concatenate(outs)

    def evaluate(self, x, y, batch_size: int = 256, verbose: int = 0) -> list[float]:
        """Mean loss and accuracy over (x, y): [loss, accuracy]."""
        n = len(x)
        if n == 0 or len(y) != n:
            raise InputError("Evaluation needs as many labels as images, and at least one.")
        target = as_labels(y)
        loss_sum = correct = 0.0
        with blas_limit():
            for i in range(0, n, batch_size):
                probs = self.forward(x[i : i + batch_size])
                t = target[i : i + batch_size]
                loss, _ = self._loss_and_grad(probs, t)
                labels = t if t.ndim == 1 else t.argmax(axis=1)
                loss_sum += loss * len(t)
                correct += float(np.count_nonzero(probs.argmax(axis=1) == labels))
        result = [loss_sum / n, correct / n]
        if verbose:
            print(f"loss: {result[0]:.4f} - accuracy: {result[1]:.4f}")
        return result

    # --- weights and description ----------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        return [p.copy() for layer in self.layers for p in layer.params.values()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        current = [(layer, k) for layer in self.layers for k in layer.params]
        if len(weights) != len(current):
            raise InputError(f"The model has {len(current)} weight arrays, not {len(weights)}.")
        for (layer, k), w in zip(current, weights, strict=True):
            w = np.asarray(w)
            if w.shape != layer.params[k].shape:
                raise InputError(
                    f"{layer.name}'s {k} is shaped {layer.params[k].shape}, not {w.shape}."
                )
            layer.params[k][...] = w  # in place: optimizers keep their references

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=print) -> str:
        """A Keras-like table of layers, output shapes and parameter counts."""
        rows = [
            (
                f"{layer.name} ({layer.kind})",
                str((None, *layer.output_shape)),
                f"{layer.count_params():,}",
            )
            for layer in self.layers
        ]
        width = [max(28, *(len(r[0]) + 2 for r in rows)), 22, 10]
        line = "_" * sum(width)
        out = [
            f'Model: "{self.name}"',
            line,
            "Layer (type)".ljust(width[0]) + "Output Shape".ljust(width[1]) + "Param #",
            "=" * sum(width),
        ]
        for r in rows:
            out.append(r[0].ljust(width[0]) + r[1].ljust(width[1]) + r[2])
        out += [
            "=" * sum(width),
            f"Total params: {self.count_params():,}",
            f"Trainable params: {self.count_params():,}",
            "Non-trainable params: 0",
            line,
        ]
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape or ()),
            "layers": [
                {"class": layer.kind, "config": layer.get_config()} for layer in self.layers
            ],
            "loss": self.loss,
            "optimizer": self.optimizer.get_config() if self.optimizer else None,
        }

    def save(self, path) -> None:
        """Write the model to ``path`` (.npz of arrays + JSON architecture), atomically."""
        save_model(self, path)

    @classmethod
    def from_config(cls, config: dict) -> Sequential:
        """A fresh, built model from ``get_config()``'s dict (weights initialised anew)."""
        try:
            layers = [LAYER_CLASSES[spec["class"]](**spec["config"]) for spec in config["layers"]]
            model = cls(layers, name=str(config.get("name", "sequential")), seed=0)
            model.build(tuple(int(s) for s in config["input_shape"]))
        except InputError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            message = f"The model's architecture is not one cnnviz knows ({exc!r})."
            raise InputError(message) from None
        model.loss = config.get("loss") or model.loss
        return model

    def copy(self) -> Sequential:
        """An independent copy (same architecture and weights, no optimizer state)."""
        clone = Sequential.from_config(self.get_config())
        clone.set_weights(self.get_weights())
        clone.metadata = dict(self.metadata)
        return clone


def _batches(x, target, order: np.ndarray, batch_size: int):
    """Yield (images float32 (B, H, W, C), targets) in ``order``, ``batch_size`` at a time.

    Images are gathered and converted a block of about 512 at a time (one copy per block
    instead of one per batch, which matters at batch size 1); the batches are views into it.
    """
    per_block = max(1, 512 // batch_size) * batch_size
    for start in range(0, len(order), per_block):
        idx = order[start : start + per_block]
        xs, ys = as_batch(x[idx]), target[idx]
        for b in range(0, len(idx), batch_size):
            yield xs[b : b + batch_size], ys[b : b + batch_size]


class _ProgressBar:
    """Keras-style epoch line: ``60000/60000 [====] - 3s 50us/step - loss: ... - accuracy: ...``."""

    def __init__(self, total: int, verbose: int):
        self.total = total
        self.verbose = verbose
        self.live = verbose == 1 and sys.stdout.isatty()
        self.next_time = 0.0

    def due(self) -> bool:
        if not self.live:
            return False
        now = time.perf_counter()
        if now >= self.next_time:
            self.next_time = now + 0.25
            return True
        return False

    def _line(self, seen, logs) -> str:
        done = int(30 * seen / self.total)
        bar = "=" * max(done - 1, 0) + (">" if done < 30 else "=") + "." * (30 - done)
        metrics = " - ".join(
            f"{k}: {logs[k]:.4f}"
            for k in ("loss", "accuracy", "val_loss", "val_accuracy")
            if k in logs
        )
        return f"{int(seen)}/{self.total} [{bar}] - {metrics}"

    def update(self, seen, logs) -> None:
        if self.live:
            sys.stdout.write("\r" + self._line(seen, logs))
            sys.stdout.flush()

    def finish(self, seen, logs, steps) -> None:
        if not self.verbose:
            return
        secs = logs["seconds"]
        per = secs / max(steps, 1)
        per_s = f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"
        line = self._line(seen, logs).replace("] - ", f"] - {secs:.0f}s {per_s} - ", 1)
        sys.stdout.write(("\r" if self.live else "") + line + "\n")
        sys.stdout.flush()
