"""Where the loop's arrays live: a 1-D `Mesh` over all devices, split along the seed axis or the
batch axis (`config.shard`), and which seeds this process owns when several processes share it.

- `shard="seed"`: every array with a leading seed axis (the state, observations, keys, batches) is
  split along it. Seeds are independent, so an update needs no communication: each device runs its
  own seeds. Over several processes (hosts) each process owns the contiguous block of seeds that
  its local devices hold, and makes, steps and saves only those.
- `shard="batch"`: the state is replicated and each batch, shaped (seeds, K, B, ...), is split
  along B, so XLA's SPMD partitioner turns the batch means into all-reduces: one seed's update
  spread over the devices of one process.
"""

import dataclasses

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from sac_jax import distributed
from sac_jax.config import ConfigError


@dataclasses.dataclass(frozen=True)
class Placement:
    """The shardings of one run and this process's seeds; hashable, so jitted functions can be
    cached per placement."""

    per_seed: NamedSharding  # the state and every other array with a leading seed axis
    batches: NamedSharding  # the sampled batches, (seeds, K, B, ...)
    num_seeds: int

    @property
    def devices(self) -> int:
        return self.per_seed.mesh.size

    @property
    def seeds(self) -> range:
        """This process's block of seed indices (0-based): the rows its local devices hold."""
        index_map = self.per_seed.addressable_devices_indices_map((self.num_seeds,))
        rows = {index[0].indices(self.num_seeds)[:2] for index in index_map.values()}
        start, stop = min(a for a, _ in rows), max(b for _, b in rows)
        if sum(b - a for a, b in rows) != stop - start:
            raise ValueError(
                f"the mesh gives process {jax.process_index()} the rows {sorted(rows)}, "
                "not one block: build it from jax.devices(), which groups them by process"
            )
        return range(start, stop)

    def put(self, tree):
        """This process's seed rows of `tree` -> global arrays laid out like the state."""
        if jax.process_count() == 1:
            return jax.device_put(tree, self.per_seed)
        return distributed.global_arrays(tree, self.per_seed, self.num_seeds)

    def feed(self, tree, batches: bool = False):
        """Host arrays (this process's seed rows) as an argument of a jitted call: as they are in
        one process (jit places them by its in_shardings, cheaper than a device_put), global
        arrays over several processes."""
        if jax.process_count() == 1:
            return tree
        sharding = self.batches if batches else self.per_seed
        return distributed.global_arrays(tree, sharding, self.num_seeds)

    def local(self, tree):
        """Inverse of `put`: global arrays -> NumPy arrays of this process's seed rows."""
        if jax.process_count() == 1:
            return jax.device_get(tree)
        return distributed.local_rows(tree, self.num_seeds)


def placement(num_seeds: int, batch_size: int, shard: str = "seed", devices=None) -> Placement:
    """The run's placement over `devices` (default: all, of every process); one device is the
    trivial case."""
    devices = jax.devices() if devices is None else list(devices)
    n = len(devices)
    mesh = Mesh(np.asarray(devices), (shard,))
    if shard == "seed":
        if num_seeds % n:
            raise ConfigError(
                f"{num_seeds} runs (config.num_seeds times the sweep points) cannot be split over "
                f"{n} devices: the number of runs must be a multiple of {n}, so that every device "
                "holds the same number of them"
            )
        split = NamedSharding(mesh, PartitionSpec(shard))
        return Placement(split, split, num_seeds)
    if batch_size % n:
        raise ConfigError(
            f"config.batch_size={batch_size} is invalid: with shard='batch' and {n} devices it must "
            f"be a multiple of {n}, so that every device holds the same part of each batch"
        )
    if jax.process_count() > 1:
        raise ConfigError(
            f"config.shard='batch' is invalid with {jax.process_count()} processes: batch sharding "
            "splits the batches of one process's seeds; use shard='seed' over several hosts"
        )
    replicated = NamedSharding(mesh, PartitionSpec())
    return Placement(replicated, NamedSharding(mesh, PartitionSpec(None, None, shard)), num_seeds)


def seed_slice(tree, i: int):
    """Seed i's part of a pytree whose leaves have a leading seed axis (None stays None)."""
    return jax.tree.map(lambda x: x[i], tree)


def stack_seeds(trees):
    """Inverse of `seed_slice` over all seeds: leaves stacked on a new leading axis."""
    return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *trees)
