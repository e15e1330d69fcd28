"""The interface every model family implements (a ``typing.Protocol``: documentation and types).

Device side (pure functions of one lane, vmapped by ``train.py``):

- ``initialize(key, lane, dtype) -> (params, ctx)``: parameters (a pytree) and per-run constants
  (data, references), from the lane's key and its per-run values (``lane_axes``);
- ``loss_and_grad(params, ctx) -> (loss, grads)``: the training loss and its gradient;
- ``constrain(params, ctx) -> params``: applied after every step when ``constrained`` (e.g. a
  projection on a sphere);
- ``snapshot(params, ctx) -> dict``: statistics of one snapshot, fixed shapes, first axis none
  (scalars) or per-neuron (keys in ``per_neuron_keys``); ``loss`` among them (the trainer's
  ``stop_below`` reads it).

Host side (numpy, on finished records): ``outputs(ctx) -> {name: (dims, array)}`` per-run
variables for the chunk file (dims start with "run"), ``event_times(snaps) -> {name: (R,)}``,
``describe()`` and ``cost()`` (logs and the progress ETA), ``summary_columns``: which
variables summary.csv takes (beyond the generic ones), ``certify(params, ctx, runs, kappa_tol)``:
end-state certificates of the runs ``runs`` ({} for a family without any), and
``lane_bytes(dtype)``: the bytes of one lane's largest per-step array, so that the trainer
runs lanes in blocks that fit the CPU's cache (None: one block).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol


class Family(Protocol):
    name: ClassVar[str]
    lane_axes: ClassVar[tuple[str, ...]]  # per-run values init reads (besides "seed")
    constrained: bool  # whether constrain() does anything (else the trainer skips it)
    summary_columns: ClassVar[tuple[str, ...]]
    per_neuron_keys: ClassVar[tuple[str, ...]]

    def validate(self) -> None: ...

    def check_lanes(self, lanes) -> None: ...

    def initialize(self, key, lane: dict, dtype) -> tuple[Any, Any]: ...

    def loss_and_grad(self, params, ctx) -> tuple[Any, Any]: ...

    def constrain(self, params, ctx) -> Any: ...

    def snapshot(self, params, ctx) -> dict: ...

    def outputs(self, ctx) -> dict: ...

    def describe(self) -> str: ...  # a short label of the program for logs

    def cost(self) -> float: ...  # relative compute of one lane-step (progress ETA)

    def event_times(self, snaps: dict) -> dict: ...

    def certify(self, params, ctx, runs, kappa_tol=None) -> dict: ...

    def lane_bytes(self, dtype) -> int | None: ...
