"""Weights & Biases logging, on when `config.wandb_project` is set: one W&B run per trial.

Each trial (a seed at a sweep point) is a W&B run of its own with its single-run config, grouped
with the other seeds of its sweep point, so W&B's group view shows the spread over seeds. Its
scalars come through `RunWriter`, the same rows as train.csv, eval.csv and TensorBoard, at the env
step. The run id lives in the trial's loop state and so in its checkpoints: a resumed run continues
the same W&B run. wandb is imported only when a project is set, so it stays optional.
"""

import contextlib
import os

from sac_jax.config import ConfigError, to_json
from sac_jax.sweep import Trial, trial_config


def require_wandb(config) -> None:
    """A ConfigError before anything runs when W&B logging is asked for without wandb installed."""
    if config.wandb_project is None:
        return
    try:
        import wandb  # noqa: F401
    except ImportError as e:
        raise ConfigError(
            f"config.wandb_project={config.wandb_project!r} logs to Weights & Biases, which needs "
            'wandb: pip install -e ".[wandb]" (or leave wandb_project unset)'
        ) from e


class WandbRuns:
    """The W&B runs of this process's trials, by trial name."""

    def __init__(self, runs: dict):
        self.runs = runs

    def log(self, trial: Trial, step: int, scalars: dict) -> None:
        self.runs[trial.name].log(scalars, step=step)


@contextlib.contextmanager
def open_runs(config, workdir: str, trials: list[Trial], loops: list):
    """A W&B run per trial (None when `config.wandb_project` is unset), continuing the run whose id
    the trial's loop state holds; new ids go into the loop states, so the next checkpoint keeps
    them. Runs are named and grouped after the workdir; W&B's files go to WORKDIR/wandb/. All are
    finished on exit, as failed when training raised."""
    if config.wandb_project is None:
        yield None
        return
    import wandb

    experiment = os.path.basename(os.path.abspath(workdir))
    runs = {}
    try:
        for trial, loop in zip(trials, loops):
            run = wandb.init(
                project=config.wandb_project,
                entity=config.wandb_entity,
                id=loop.wandb_run_id,
                resume="allow",
                name=f"{experiment}/{trial.name}",
                group=f"{experiment}/{trial.point}" if trial.point else experiment,
                config=to_json(trial_config(config, trial)),
                dir=workdir,
                reinit="create_new",  # the trials' runs are open at the same time
            )
            loop.wandb_run_id = run.id
            runs[trial.name] = run
        yield WandbRuns(runs)
    except BaseException:
        for run in runs.values():
            run.finish(exit_code=1)
        raise
    for run in runs.values():
        run.finish()
