"""The trials one config trains: its seeds times the cross product of its swept fields.

A sweep gives SWEEPABLE fields lists of values (`config.critic_lr = [1e-4, 3e-4]`). Those fields
are leaves of the train state, so every trial shares one compiled update and the loop trains all
of them on one leading axis, as it trains seeds. Each trial is tagged with its seed and values.
"""

import copy
import dataclasses
import itertools

import ml_collections
import numpy as np

from sac_jax.config import SWEEPABLE, is_sweep


@dataclasses.dataclass(frozen=True)
class Trial:
    """One seed at one sweep point: what a single-seed, unswept run would train."""

    seed: int
    values: dict  # swept field -> this trial's value; empty without a sweep

    @property
    def point(self) -> str:
        """`critic_lr=0.0001,tau=0.01`: the sweep point this seed trains at; empty without a sweep."""
        return ",".join(f"{k}={v}" for k, v in self.values.items())

    @property
    def name(self) -> str:
        """`seed3`, or with a sweep `critic_lr=0.0001,tau=0.01,seed3`: its folder and TB tag."""
        return ",".join(filter(None, [self.point, f"seed{self.seed}"]))

    @property
    def tags(self) -> dict:
        """The columns that identify this trial's rows in train.csv and eval.csv."""
        return {"seed": self.seed, **self.values}


def swept_fields(config: ml_collections.ConfigDict) -> list[str]:
    return [f for f in SWEEPABLE if is_sweep(config[f])]


def expand_trials(config: ml_collections.ConfigDict) -> list[Trial]:
    """Sweep points in the order of SWEEPABLE's cross product (last field fastest), and for each
    point the seeds `seed .. seed + num_seeds - 1`."""
    fields = swept_fields(config)
    points = itertools.product(*(config[f] for f in fields))
    seeds = range(config.seed, config.seed + config.num_seeds)
    return [Trial(seed, dict(zip(fields, point))) for point in points for seed in seeds]


def trial_config(config: ml_collections.ConfigDict, trial: Trial) -> ml_collections.ConfigDict:
    """The single run that `trial` is: what its checkpoint records, usable by train.py as it is."""
    single = copy.deepcopy(config)  # keeps the sweepable fields' types, so they take scalars
    single.seed, single.num_seeds = trial.seed, 1
    for field, value in trial.values.items():
        single[field] = value
    return single


def stacked_values(trials: list[Trial]) -> dict:
    """Each swept field's values over the trials, as float32 arrays for `jax.vmap(create_state)`."""
    fields = trials[0].values.keys()
    return {f: np.array([t.values[f] for t in trials], np.float32) for f in fields}


def run_name(config: ml_collections.ConfigDict) -> str:
    """`seed0`, `seeds0-7`, or `sweep-tau-gamma_seeds0-2`: names a default workdir."""
    last = config.seed + config.num_seeds - 1
    name = f"seed{config.seed}" if config.num_seeds == 1 else f"seeds{config.seed}-{last}"
    fields = swept_fields(config)
    return f"sweep-{'-'.join(fields)}_{name}" if fields else name
