"""Train a CNN in the background, under a person's control: start, pause, resume, step, stop.

The Train live page owns one :class:`TrainingWorker` per browser session. The worker runs
``model.fit`` in a child process, by role:

* :mod:`~cnnviz.training.process`: what runs in the training process: ``model.fit`` with a
  callback that, between two batches, fills in a :class:`Snapshot` (curves, epoch log, speed,
  learned filters, one sample's feature maps), waits while the run is paused, lets exactly one
  batch through per step and stops when asked;
* :mod:`~cnnviz.training.worker`: what runs in the app: :class:`TrainingWorker` and its pump;
* :mod:`~cnnviz.training.messages`: the picklable messages between them (the commands Pause,
  Resume, Step, Stop; a Progress with the snapshot and the weights, four times a second).

Why a process: a training thread inside the Streamlit server shares Python's GIL with the
thread that draws the page, and waits for it at every NumPy call; measured in the browser, a
thread trained at about half the engine's speed while its page was open. In the app, the worker
sends the commands, and one thread per run (the "pump", named ``cnnviz-training``) mirrors the
child's progress into the worker.

No Streamlit here: everything is testable with plain Python.

Ending with the session
-----------------------
Two mechanisms, because Streamlit keeps a closed tab's session for a while (to allow a
reconnect) and does not promise when it lets go of its state:

1. ``owner_alive``: the page passes a probe (``Runtime.is_active_session`` for its session
   id, see :func:`cnnviz.ui.layout.session_alive_probe`). The pump asks it about once a
   second, also while paused; after ``owner_grace`` seconds (30) without an active session
   the run stops itself, keeping its weights. A browser that reconnects within the grace
   period finds its run still going.
2. The pump never holds a reference to the :class:`TrainingWorker` itself, and a
   ``weakref.finalize`` on the worker tells the child to stop: when Streamlit finally drops
   the session state (the only owner of the worker), the run stops after the current batch.
   The child is a daemon process: it never outlives the server.

One session's worker shares nothing with another's: each has its own process, model, data
arrays and pump.

>>> cfg = TrainingConfig(train_size=500, test_size=200, epochs=1)   # doctest: +SKIP
>>> worker = TrainingWorker(cfg); worker.start(); worker.join()      # doctest: +SKIP
>>> worker.snapshot().result.test_accuracy                            # doctest: +SKIP
"""

from cnnviz.nn.recipes import TrainingConfig
from cnnviz.training.messages import Snapshot, TrainingResult
from cnnviz.training.worker import TrainingWorker

__all__ = ["Snapshot", "TrainingConfig", "TrainingResult", "TrainingWorker"]
