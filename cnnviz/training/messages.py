"""What the training process and the app send each other through their pipe: small picklable
dataclasses.

App -> training process: :class:`Pause`, :class:`Resume`, :class:`Step`, :class:`Stop`.
Training process -> app: :class:`Progress` (a :class:`Snapshot` and the current weights), four
times a second and once more, with ``done=True``, when the run has ended.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from cnnviz.texts import Text

# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class Pause:
    """Pause after the current batch."""


@dataclass(frozen=True)
class Resume:
    """Go on training after a pause."""


@dataclass(frozen=True)
class Step:
    """Train exactly one more batch, then stay paused."""


@dataclass(frozen=True)
class Stop:
    """Stop after the current batch, keeping the weights; ``reason`` is shown to the person
    (a :class:`cnnviz.texts.Text`, so it reads in the person's language)."""

    reason: Text | str = ""


Command = Pause | Resume | Step | Stop


# ----------------------------------------------------------------------------- progress


@dataclass
class TrainingResult:
    """What the finished run scored on the test subset."""

    test_loss: float
    test_accuracy: float
    confusion: np.ndarray  # int (10, 10): rows = true class, columns = predicted
    misclassified: list[tuple[int, int, int]]  # (index into test_images, true, predicted)
    test_images: np.ndarray  # uint8 (N, 28, 28) of the misclassified gallery (first 24)


@dataclass
class Snapshot:
    """A copy of the run's progress: the training process fills it in, the app reads copies."""

    status: str = "ready"  # ready, running, paused, stopping, finished, stopped, diverged, failed
    message: str = ""  # English; message_text / shown_message(): in the reader's language
    message_text: Text | None = None
    epoch: int = 0  # 1-based epoch being trained (0 before the start)
    epochs: int = 0
    batch: int = 0  # batches done in the current epoch
    steps_per_epoch: int = 0
    samples_seen: int = 0
    total_samples: int = 0
    elapsed: float = 0.0  # seconds spent training (pauses excluded)
    samples_per_second: float = 0.0
    seconds_left: float | None = None
    # (epochs done as a float, running loss, running accuracy of the epoch), one per batch
    batch_curve: list[tuple[float, float, float]] = field(default_factory=list)
    history: dict[str, list[float]] = field(
        default_factory=lambda: {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    )
    log: list[str] = field(default_factory=list)
    filters: np.ndarray | None = None  # (k, k, F) first conv layer
    sample_image: np.ndarray | None = None  # uint8 (28, 28)
    sample_label: int | None = None
    sample_maps: list[tuple[str, np.ndarray]] = field(default_factory=list)
    sample_probs: np.ndarray | None = None  # (10,)
    result: TrainingResult | None = None
    version: int = 0  # grows with every publish
    heavy_version: int = 0  # grows when filters / sample maps / probabilities change

    @property
    def done(self) -> bool:
        """True when the run has ended (finished, stopped, diverged or failed)."""
        return self.status in ("finished", "stopped", "diverged", "failed")

    @property
    def progress(self) -> float:
        """Fraction of all batches done, in [0, 1]."""
        return min(1.0, self.samples_seen / self.total_samples) if self.total_samples else 0.0

    def copy(self) -> Snapshot:
        """A copy whose lists the writer's later appends do not reach."""
        return dataclasses.replace(
            self,
            batch_curve=list(self.batch_curve),
            history={k: list(v) for k, v in self.history.items()},
            log=list(self.log),
            sample_maps=list(self.sample_maps),
        )

    def shown_message(self) -> str:
        """``message`` in the current language (:func:`cnnviz.i18n.set_language`)."""
        return str(self.message_text) if self.message_text is not None else self.message

    def end(self, status: str, message: Text | str) -> None:
        """Mark the run as ended with ``status`` and a one-sentence ``message`` (also logged,
        in English like the rest of the Keras-style log)."""
        text = message if isinstance(message, Text) else Text(message)
        self.status = status
        self.message_text = text
        self.message = text.english
        self.log.append(self.message)
        self.version += 1


@dataclass
class Progress:
    """The training process's report: a snapshot, the weights (or None if unchanged) and
    whether the run is over."""

    snapshot: Snapshot
    weights: list[np.ndarray] | None
    done: bool = False
