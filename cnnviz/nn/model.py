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
import time

import numpy as np

from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.nn import losses, optimizers
from cnnviz.nn.callbacks import Callback, History, ProgbarLogger, takes_batches
from cnnviz.nn.layers import LAYER_CLASSES, Layer
from cnnviz.nn.metrics import accuracy, count_correct
from cnnviz.nn.npz import save_model
from cnnviz.nn.parallel import ChunkedSteps, in_parts
from cnnviz.nn.threads import blas_limit
from cnnviz.nn.trace import Trace, trace_layers
from cnnviz.texts import Text
from cnnviz.validate import as_batch, as_labels

__all__ = ["Sequential", "as_batch", "as_labels"]


class Sequential:
    """A linear stack of layers. Inputs (N, H, W) or (N, H, W, C); outputs (N, classes)."""

    def __init__(
        self, layers: list[Layer] | None = None, name: str = "sequential", seed: int | None = None
    ):
        self.name = name
        self.layers: list[Layer] = []
        self.seed = seed
        self.rng = np.random.default_rng(self.seed)
        self.optimizer = None
        self.loss = "categorical_crossentropy"
        self.metrics = ["accuracy"]
        self.stop_training = False
        self._good_weights: list[np.ndarray] | None = None  # during fit: the last finite ones
        self.built = False
        self.metadata: dict = {}
        for layer in layers or []:
            self.add(layer)

    # --- building ----------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise InputError(
                "Sequential takes cnnviz.nn layers, not {kind}.", kind=type(layer).__name__
            )
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
                "This model takes images shaped {wanted}, not {shape}.",
                wanted=self.layers[0].input_shape,
                shape=x.shape[1:],
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
            raise InputError(
                "There are {images} images but {labels} labels.", images=len(x), labels=len(target)
            )
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
            acc = accuracy(self.layers[-1].output, as_labels(y))
            if np.isfinite(loss):
                self.apply_gradients()
        return loss, acc

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
        verbose 1 or 2 prints Keras's epoch lines (a :class:`ProgbarLogger`). A loss that stops
        being finite stops training and restores the last weights that gave a finite loss
        (``history.diverged``, ``history.message``).
        """
        batch_size, epochs = int(batch_size), int(epochs)
        target = self._fit_targets(x, y, batch_size, epochs)
        rng = np.random.default_rng(seed) if seed is not None else self.rng
        self.history = history = History()
        cbs = [history, *(callbacks or []), *([ProgbarLogger()] if verbose else [])]
        params = {
            "epochs": initial_epoch + epochs,
            "steps": -(-len(x) // batch_size),
            "samples": len(x),
            "verbose": verbose,
        }
        for cb in cbs:
            cb.set_model(self)
            cb.set_params(params)
        batch_cbs = [cb for cb in cbs if takes_batches(cb)]  # the others cost nothing per batch
        self.stop_training = False
        self._good_weights = self.get_weights()
        for cb in cbs:
            cb.on_train_begin({})
        # numpy's overflow warnings are off: a diverging run is caught by its loss instead
        steps = ChunkedSteps(self)  # each batch in chunks, on threads when that is faster
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), blas_limit():
            try:
                for epoch in range(initial_epoch, params["epochs"]):
                    for cb in cbs:
                        cb.on_epoch_begin(epoch, {})
                    order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
                    logs = self._train_epoch(x, target, order, batch_size, epoch, batch_cbs, steps)
                    if logs["samples"] == 0:
                        break
                    if validation_data is not None and not history.diverged:
                        logs["val_loss"], logs["val_accuracy"] = self.evaluate(*validation_data)
                    for cb in cbs:
                        cb.on_epoch_end(epoch, logs)
                    if self.stop_training:
                        history.stopped_early = not history.diverged
                        break
            finally:
                steps.close()
        self._good_weights = None
        for cb in cbs:
            cb.on_train_end({"diverged": history.diverged, "message": history.message})
        return history

    def _fit_targets(self, x, y, batch_size: int, epochs: int) -> np.ndarray:
        """Check fit's arguments (InputError with one sentence); returns y as labels or rows."""
        if self.optimizer is None:
            raise InputError("Compile the model (choose an optimizer) before training it.")
        n = len(x)
        if n == 0:
            raise InputError("There are no training images.")
        if len(y) != n:
            raise InputError(
                "There are {images} images but {labels} labels.", images=n, labels=len(y)
            )
        if batch_size < 1:
            raise InputError("The batch size must be at least 1.")
        if epochs < 0:
            raise InputError("The number of epochs cannot be negative.")
        target = as_labels(y)
        self._ensure_built(as_batch(x[:1]))
        return as_labels(target, self.layers[-1].output_shape[0])

    def _train_epoch(self, x, target, order, batch_size, epoch, batch_cbs, steps) -> dict:
        """One pass over x[order] a batch at a time (``steps``: cnnviz/nn/parallel.py); returns
        the epoch's logs (running loss and accuracy, "samples" seen, "seconds"). Stops early on
        model.stop_training or divergence."""
        t0 = time.perf_counter()
        loss_sum, seen, correct = 0.0, 0, 0
        for step, (xb, yb) in enumerate(_batches(x, target, order, batch_size)):
            loss, right = steps.gradients(xb, yb)
            if not math.isfinite(loss):
                self._diverged(epoch, step, loss)
                break
            if step % 100 == 0:
                self._good_weights = self.get_weights()
            correct += right
            loss_sum += loss * len(yb)
            seen += len(yb)
            self.apply_gradients()
            if batch_cbs:
                logs = {
                    "loss": loss_sum / seen,
                    "accuracy": correct / seen,
                    "samples": seen,
                    "seconds": time.perf_counter() - t0,
                    "batch_loss": loss,
                    "epoch": epoch,
                }
                for cb in batch_cbs:
                    cb.on_batch_end(step, logs)
            if self.stop_training:
                break
        return {
            "loss": loss_sum / max(seen, 1),
            "accuracy": correct / max(seen, 1),
            "samples": seen,
            "seconds": time.perf_counter() - t0,
        }

    def _diverged(self, epoch: int, step: int, loss: float) -> None:
        """The loss stopped being finite: restore the last good weights and stop training."""
        self.set_weights(self._good_weights)
        self.history.diverged = True
        self.history.message_text = Text(
            N_(
                "Training stopped at epoch {epoch}, batch {batch}: the loss became {loss}, "
                "so the last weights with a finite loss were restored; try a smaller learning "
                "rate."
            ),
            epoch=epoch + 1,
            batch=step + 1,
            loss=str(loss),
        )
        self.history.message = self.history.message_text.english
        self.stop_training = True

    def predict(self, x, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """x (N, H, W[, C]) -> class probabilities (N, classes), float32. Large inputs are cut
        into parts predicted on threads of their own (cnnviz/nn/parallel.py)."""
        if len(x) == 0:
            raise InputError("There are no images to predict.")
        self._ensure_built(as_batch(x[:1]))  # before any replica shares the weights

        def part(model, start: int, stop: int) -> list[np.ndarray]:
            return [
                model.forward(x[i : min(i + batch_size, stop)]).copy()
                for i in range(start, stop, batch_size)
            ]

        with blas_limit():
            return np.concatenate([out for outs in in_parts(self, len(x), part) for out in outs])

    def evaluate(self, x, y, batch_size: int = 32, verbose: int = 0) -> list[float]:
        """Mean loss and accuracy over (x, y): [loss, accuracy]."""
        n = len(x)
        if n == 0 or len(y) != n:
            raise InputError("Evaluation needs as many labels as images, and at least one.")
        target = as_labels(y)
        self._ensure_built(as_batch(x[:1]))

        def part(model, start: int, stop: int) -> tuple[float, int]:
            loss_sum = correct = 0
            for i in range(start, stop, batch_size):
                probs = model.forward(x[i : min(i + batch_size, stop)])
                t = target[i : min(i + batch_size, stop)]
                loss_sum += model._loss_and_grad(probs, t)[0] * len(t)
                correct += count_correct(probs, t)
            return loss_sum, correct

        with blas_limit():
            parts = in_parts(self, n, part)
        result = [sum(p[0] for p in parts) / n, sum(p[1] for p in parts) / n]
        if verbose:
            print(f"loss: {result[0]:.4f} - accuracy: {result[1]:.4f}")
        return result

    # --- weights and description ----------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        return [p.copy() for layer in self.layers for p in layer.params.values()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        current = [(layer, k) for layer in self.layers for k in layer.params]
        if len(weights) != len(current):
            raise InputError(
                "The model has {count} weight arrays, not {given}.",
                count=len(current),
                given=len(weights),
            )
        for (layer, k), w in zip(current, weights, strict=True):
            w = np.asarray(w)
            if w.shape != layer.params[k].shape:
                raise InputError(
                    "{layer}'s {weight} is shaped {wanted}, not {shape}.",
                    layer=layer.name,
                    weight=k,
                    wanted=layer.params[k].shape,
                    shape=w.shape,
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
            raise InputError(
                "The model's architecture is not one cnnviz knows ({error}).", error=repr(exc)
            ) from None
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
