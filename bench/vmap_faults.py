"""Seed-updates/s, minor page faults, kernel time and busy cores of the bare vmapped update.

    PYTHONPATH=. python bench/vmap_faults.py --size HalfCheetah --seeds 1 4 8 [--malloc heap|arena]
        [--cpu-devices 2]

What docs/scaling.md ("What held 8 seeds back") measured: with glibc's defaults (`--malloc
default`) an 8-seed update page-faults its buffers on every call; `heap` and `arena` apply
`sac_jax.hostmem.reuse_freed_memory` without and with one arena, as `train()` does for one run and
for several. Run each setting in its own process (mallopt is process-wide) and compare ratios.
The update is the loop's own (`sac_jax.loop.vmap_seeds`); `--cpu-devices N` splits the seeds over
N CPU devices as `shard="seed"` does. "Cores busy" is process CPU time over wall time.
"""

import argparse
import resource
import time

import jax
import numpy as np

from bench.speed import SIZES, random_batch
from sac_jax import create_state, default_config, update_steps
from sac_jax.hostmem import reuse_freed_memory
from sac_jax.loop import vmap_seeds
from sac_jax.sharding import placement


def vmapped_update(obs_dim: int, act_dim: int, num_seeds: int):
    """The loop's jitted update over `num_seeds` seeds (`loop.vmap_seeds`, placed as the loop places
    it), a fresh state for them, and that many copies of one random batch (K = 1)."""
    config = default_config()
    where = placement(num_seeds, config.batch_size)
    keys = jax.random.split(jax.random.PRNGKey(0), num_seeds)
    state = where.put(jax.vmap(lambda k: create_state(config, obs_dim, act_dim, k))(keys))
    batches = jax.tree.map(lambda x: np.stack([x] * num_seeds), random_batch(obs_dim, act_dim, 1))
    return vmap_seeds(update_steps, where), state, batches


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="HalfCheetah")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--malloc", choices=("default", "heap", "arena"), default="default")
    p.add_argument("--updates", type=int, default=50)
    p.add_argument("--cpu-devices", type=int, default=1, help="CPU devices to split the seeds over")
    args = p.parse_args()
    jax.config.update("jax_num_cpu_devices", args.cpu_devices)  # before JAX starts its backend
    if args.malloc != "default":
        reuse_freed_memory(one_arena=args.malloc == "arena")
    obs_dim, act_dim = SIZES[args.size]
    print(f"{args.size} sizes, malloc {args.malloc}, {args.cpu_devices} CPU device(s)")
    for n in args.seeds:
        update, state, batches = vmapped_update(obs_dim, act_dim, n)
        for _ in range(3):  # compile, and let the heap settle
            state, metrics = update(state, batches)
        jax.block_until_ready(metrics)
        before, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for _ in range(args.updates):
            state, metrics = update(state, batches)
        jax.block_until_ready(metrics)
        seconds, after = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
        print(f"{n} seeds: {n * args.updates / seconds:.0f} seed-updates/s, "
              f"{(after.ru_minflt - before.ru_minflt) / args.updates:.0f} minor faults and "
              f"{(after.ru_stime - before.ru_stime) / args.updates * 1e3:.1f} ms kernel time per update, "
              f"{(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / seconds:.2f} cores busy")


if __name__ == "__main__":
    main()
