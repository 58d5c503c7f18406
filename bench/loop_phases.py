"""Where a training-loop step's wall time goes on the host, measured in the real `train()`.

    MUJOCO_GL=egl PYTHONPATH=. python bench/loop_phases.py --env Humanoid-v5 [--seeds 1] [--steps 3000]

The functions the loop calls are wrapped with timers (this script only; the loop is unchanged):
the update dispatch (`loop.vmap_seeds`' jitted update), the wait for the exploration actions
(`Placement.local`, which blocks until the previous update and the exploration call are done),
each `env.step`, and the replay buffers' `sample` and `add`. Timed from the second update on (the
first compiles); the step time is the loop's wall time per step, so "other" is what the host does
besides (the exploration dispatch, Python bookkeeping). Beside it, the bare update's time per call
(`update_steps` vmapped as the loop runs it, at the same sizes, measured right after). The host's
pieces overlap the
update, so they cost only where they compete with XLA's threads for the cores. So it also reports
the main thread's CPU time per step in the loop (h) and how many cores XLA's threads keep busy in
the bare update (c: their CPU time over wall time, the main thread's dispatching left out). If the
two packed perfectly onto the N usable cores, a step would take max(bare, (bare * c + h) / N): an
estimate of the best the loop can do here (c counts any spinning of XLA's idle workers, which would
give way to the host, so the estimate errs high).
"""

import argparse
import collections
import functools
import os
import tempfile
import time

import numpy as np

from bench.seeds import bench_config
from bench.speed import random_batch
from sac_jax import loop, replay, sharding

vmap_seeds = loop.vmap_seeds  # the loop's own, for the bare update
totals = collections.defaultdict(float)  # seconds per phase, from the second update on
dispatches = []  # (perf_counter(), thread_time()) at each update dispatch


def timed(name, fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        if len(dispatches) > 1:  # the first update compiles
            totals[name] += time.perf_counter() - t
        return out

    return run


def instrument(num_seeds: int):
    def timed_update(update_fn, where):
        update = timed("update dispatch", vmap_seeds(update_fn, where))

        def dispatch(*args):
            dispatches.append((time.perf_counter(), time.thread_time()))
            return update(*args)

        return dispatch

    loop.vmap_seeds = timed_update
    sharding.Placement.local = timed("wait for actions (+ log pulls)", sharding.Placement.local)
    replay.ReplayBuffers.sample = timed("buffer.sample", replay.ReplayBuffers.sample)
    replay.ReplayBuffers.add = timed("buffer.add", replay.ReplayBuffers.add)
    make_env, made = loop.make_env, []

    def timed_env(env_id, seed):
        env = make_env(env_id, seed)
        if len(made) < num_seeds:  # the training envs, made before the evaluation envs
            env.step = timed("env.step", env.step)
        made.append(env)
        return env

    loop.make_env = timed_env


def bare_update(config, obs_dim: int, act_dim: int, calls: int = 200) -> tuple[float, float]:
    """ms per call of the loop's jitted update, vmapped over the same seeds, on random batches, and
    the cores XLA's threads keep busy (the process's CPU time but this thread's, over wall time)."""
    import jax

    from sac_jax.state import create_state
    from sac_jax.update import update_steps

    n = config.num_seeds
    where = sharding.placement(n, config.batch_size)
    state = where.put(jax.vmap(lambda k: create_state(config, obs_dim, act_dim, k))(
        np.stack([jax.random.PRNGKey(s) for s in range(n)])))  # fmt: skip
    batch = jax.tree.map(lambda x: np.stack([x] * n), random_batch(obs_dim, act_dim, 1))
    update = vmap_seeds(update_steps, where)
    state = jax.block_until_ready(update(state, batch)[0])
    t, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    for _ in range(calls):
        state, _ = update(state, batch)
    jax.block_until_ready(state)
    wall = time.perf_counter() - t
    return wall / calls * 1e3, (time.process_time() - cpu - (time.thread_time() - own)) / wall


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="Humanoid-v5")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--steps", type=int, default=3000, help="env steps; updates from steps // 4")
    args = p.parse_args()
    config = bench_config(args.env, args.steps, args.seeds, seed=0)
    instrument(args.seeds)
    with tempfile.TemporaryDirectory() as workdir:
        loop.train(config, workdir, quiet=True)
    # Steps between the second and the last update dispatch: the first one compiles.
    updates, steps = len(dispatches), len(dispatches) - 2
    (start, start_cpu), (end, end_cpu) = dispatches[1], dispatches[-1]
    step_ms, host_cpu_ms = 1e3 * (end - start) / steps, 1e3 * (end_cpu - start_cpu) / steps
    phases = {name: 1e3 * total / (len(dispatches) - 1) for name, total in totals.items()}
    env = loop.make_env(args.env, 0)
    bare, cores_busy = bare_update(config, env.observation_space.shape[0], env.action_space.shape[0])
    cores = len(os.sched_getaffinity(0))
    packed_ms = max(bare, (bare * cores_busy + host_cpu_ms) / cores)

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.env}, {args.seeds} seed(s), "
          f"{updates} update steps, load {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| per env step, after learning starts | ms |\n|---|---|")
    print(f"| loop step (wall) | {step_ms:.3f} ({1e3 / step_ms:.0f} steps/s) |")
    for name, ms in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {ms:.3f} |")
    print(f"| other host work (exploration dispatch, bookkeeping) | {step_ms - sum(phases.values()):.3f} |")
    print(f"| host work, the wait left out | {step_ms - phases['wait for actions (+ log pulls)']:.3f} |")
    print(f"| host thread CPU time (h) | {host_cpu_ms:.3f} |")
    print(f"| bare update at the same sizes, ms per call | {bare:.3f} (loop / bare: {bare / step_ms:.2f}) |")
    print(f"| bare update: cores XLA's threads keep busy (c) | {cores_busy:.2f} of {cores} |")
    print(f"| step if host and update packed perfectly, max(bare, (bare * c + h) / cores) | {packed_ms:.3f} "
          f"(loop / bare: {bare / packed_ms:.2f}) |")


if __name__ == "__main__":
    main()
