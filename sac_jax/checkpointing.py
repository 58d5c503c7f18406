"""Orbax checkpoints of one trial: plain data in, plain data out.

A checkpoint at env step STEP holds four items, each produced (and later accepted) by its owner:

- `state`: the whole SACState as host NumPy arrays, so it restores on any device;
- `replay`: the replay buffer's `state_dict()` (left out with `config.checkpoint_buffer=False`);
- `loop`: JSON from the loop state, the buffer's sampler, the env's episode snapshot and sizes;
- `config`: the trial's config as JSON.

This module only moves those to and from disk; `sac_jax.session` decides what goes in and where
it comes back. Saves are synchronous and atomic (Orbax writes a temporary folder and renames it),
so a process killed mid-save leaves the previous checkpoints intact. The latest `keep` are kept,
plus the best by evaluation return.
"""

import logging
import os

import jax
import numpy as np
import orbax.checkpoint as ocp

from sac_jax.distributed import this_process_only
from sac_jax.workdir import checkpoint_dir

_BEST_METRIC = "eval_return_mean"
_ITEMS = {"state": "pytree", "replay": "pytree", "loop": "json", "config": "json"}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the run that wants it."""


class _QuietReadOnly(logging.Filter):
    """Orbax warns at every read-only open (evaluate, load_policy), which is the intended use."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Given directory is read only")


logging.getLogger("absl").addFilter(_QuietReadOnly())


def _restore_args(template, partial: bool = False) -> ocp.args.PyTreeRestore:
    """Restore exactly the template's leaves, as NumPy arrays of its dtypes."""
    restore_args = ocp.checkpoint_utils.construct_restore_args(template)
    return ocp.args.PyTreeRestore(item=template, restore_args=restore_args, partial_restore=partial)


def host_zeros_like(make_tree):
    """NumPy zeros shaped like `make_tree()`'s leaves: a restore template.

    `jax.eval_shape` runs nothing, and gives Python-int leaves (TrainState.step before the first
    update) the int32 dtype that the saved arrays have.
    """
    return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), jax.eval_shape(make_tree))


class Checkpointer:
    """The Orbax CheckpointManager of one trial's folder (`run_dir/checkpoints/`).

    With `keep` it belongs to a training run: it saves, keeps the latest `keep` plus the best by
    eval return, and deletes older ones. Without it, it is read-only (evaluation, `load_policy`)
    and never writes or deletes anything.
    """

    def __init__(self, run_dir: str, keep: int | None = None):
        self.directory = checkpoint_dir(run_dir)
        # A checkpoint saved without an evaluation at its step ranks below every evaluated one.
        best = dict(best_fn=lambda m: m.get(_BEST_METRIC, -np.inf), best_mode="max")
        this_process, handlers = this_process_only(_ITEMS)  # a seed's checkpoints are its process's
        if keep is None:
            if not os.path.isdir(run_dir):
                raise CheckpointError(f"workdir {run_dir!r} does not exist")
            if not os.path.isdir(self.directory) or not os.listdir(self.directory):
                raise CheckpointError(
                    f"workdir {run_dir!r} has no checkpoints (no {self.directory}/)"
                )
            options = ocp.CheckpointManagerOptions(
                read_only=True,
                create=False,
                save_interval_steps=0,
                multiprocessing_options=this_process,
                **best,
            )
        else:
            preserve = ocp.checkpoint_managers.AnyPreservationPolicy(
                [
                    ocp.checkpoint_managers.LatestN(n=keep),
                    ocp.checkpoint_managers.BestN(get_metric_fn=best["best_fn"], n=1),
                ]
            )
            os.makedirs(self.directory, exist_ok=True)  # Orbax will not with active_processes
            options = ocp.CheckpointManagerOptions(
                preservation_policy=preserve,
                create=False,
                enable_async_checkpointing=False,  # the loop donates the state right after
                cleanup_tmp_directories=True,  # remove what a killed save left half-written
                multiprocessing_options=this_process,
                **best,
            )
        self.manager = ocp.CheckpointManager(
            self.directory, options=options, item_handlers=handlers
        )
        if keep is None and self.manager.latest_step() is None:
            raise CheckpointError(
                f"workdir {run_dir!r} has no complete checkpoint in {self.directory}"
            )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.manager.close()

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def steps(self) -> list[int]:
        return self.manager.all_steps()

    def best_step(self) -> int | None:
        return self.manager.best_step()

    def discard_after(self, step: int) -> None:
        """Delete the checkpoints of steps after `step`: a run that resumed from `step` (the
        newest one all its trials have) replaces them, and Orbax would not save over them."""
        for later in [s for s in self.steps() if s > step]:
            self.manager.delete(later)

    def step_dir(self, step: int) -> str:
        return os.path.join(self.directory, str(step))

    def checked_step(self, step: int | None) -> int:
        """`step`, or the latest when None; an error naming the available steps if it is not one."""
        steps = sorted(self.manager.all_steps())
        if step is None:
            return steps[-1]
        if step not in steps:
            raise CheckpointError(
                f"no checkpoint at step {step} in {self.directory}; available: steps {steps}"
            )
        return step

    def has_replay(self, step: int) -> bool:
        return os.path.isdir(os.path.join(self.step_dir(step), "replay"))

    def _restore(self, step: int, **items):
        """Restore the named items of one checkpoint; any read failure becomes a CheckpointError."""
        try:
            return self.manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as e:  # Orbax/TensorStore raise many types for damaged files
            others = [s for s in self.manager.all_steps() if s != step]
            raise CheckpointError(
                f"checkpoint {self.step_dir(step)} cannot be read; it is corrupted or incomplete "
                f"({type(e).__name__}: {e}). Nothing was changed. Other checkpoints: steps {others}; "
                "move the damaged step directory away to use them."
            ) from e

    def metadata(self, step: int | None = None) -> tuple[int, dict, dict]:
        """(step, loop item, config item) of a checkpoint (default: the latest)."""
        step = self.checked_step(step)
        restored = self._restore(step, loop=ocp.args.JsonRestore(), config=ocp.args.JsonRestore())
        return step, restored.loop, restored.config

    def restore_arrays(self, step: int, template, partial: bool = False, replay: bool = False):
        """(state arrays shaped like `template`, the replay `state_dict` or None) of a checkpoint.

        `template`: NumPy arrays (`host_zeros_like`); with `partial`, only its leaves are read
        (e.g. the actor alone, for a policy).
        """
        items = {"state": _restore_args(template, partial)}
        if replay:
            items["replay"] = ocp.args.PyTreeRestore()  # NumPy arrays, shaped as saved
        restored = self._restore(step, **items)
        return restored.state, restored.replay if replay else None

    def save(
        self,
        step: int,
        state,
        loop: dict,
        config: dict,
        replay: dict | None = None,
        eval_return: float | None = None,
    ) -> None:
        """Write one checkpoint; `eval_return` ranks it for the best-checkpoint policy."""
        items = {
            "state": ocp.args.PyTreeSave(jax.tree.map(np.asarray, jax.device_get(state))),
            "loop": ocp.args.JsonSave(loop),
            "config": ocp.args.JsonSave(config),
        }
        if replay is not None:
            items["replay"] = ocp.args.PyTreeSave(replay)
        metrics = {} if eval_return is None else {_BEST_METRIC: eval_return}
        try:
            saved = self.manager.save(step, args=ocp.args.Composite(**items), metrics=metrics)
            if not saved:  # Orbax skips, silently, a step at or below the folder's latest
                raise ValueError(f"the folder already has step {self.latest_step()}")
        except Exception as e:  # a full disk, a folder that cannot be written, ...
            kept = sorted(self.manager.all_steps(read=True))
            raise CheckpointError(
                f"could not save the checkpoint of step {step} in {self.directory} "
                f"({type(e).__name__}: {e}); the run stops here. The checkpoints already on disk "
                f"(steps {kept}) are intact: free space or fix the folder, then run the same "
                "command to resume from the latest."
            ) from e
