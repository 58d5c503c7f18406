"""The seed axis over devices: a 1-D `Mesh` and the `NamedSharding` of every leading seed axis.

Seeds are independent, so splitting them over devices needs no communication inside an update:
XLA partitions the vmapped update along the seed axis and each device runs its own seeds.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sac_jax.config import ConfigError

SEED_AXIS = "seed"


def seed_sharding(num_seeds: int, devices=None) -> NamedSharding:
    """Leading axis split over `devices` (default: all of them); one device is the trivial case."""
    devices = jax.devices() if devices is None else list(devices)
    if num_seeds % len(devices):
        raise ConfigError(
            f"config.num_seeds={num_seeds} is invalid: with {len(devices)} devices it must be a "
            f"multiple of {len(devices)}, so that every device holds the same number of seeds"
        )
    return NamedSharding(Mesh(np.asarray(devices), (SEED_AXIS,)), PartitionSpec(SEED_AXIS))


def seed_slice(tree, i: int):
    """Seed i's part of a pytree whose leaves have a leading seed axis (None stays None)."""
    return jax.tree.map(lambda x: x[i], tree)


def stack_seeds(trees):
    """Inverse of `seed_slice` over all seeds: leaves stacked on a new leading axis."""
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)
