"""Where a training-loop step's wall time goes on the host, measured in the real `train()`.

    MUJOCO_GL=egl PYTHONPATH=. python bench/loop_phases.py --env Humanoid-v5 [--seeds 1] [--steps 3000]

The functions the loop calls are wrapped with timers (this script only; the loop is unchanged): the
update dispatch (`loop.vmap_seeds`' jitted update), the wait for the exploration actions
(`Placement.local`, which blocks until the previous update and the exploration call are done), each
`env.step`, and the replay buffers' `sample` and `add`. Timed from the second update on (the first
compiles); the step time is the loop's wall time per step, so "other" is what the host does besides
(the exploration dispatch, Python bookkeeping). Beside it, the bare update's time per call
(`update_steps` vmapped as the loop runs it, at the same sizes, measured right after). The host's
pieces overlap the update, so they cost only where they compete with XLA's threads for the cores. So
it also reports the main thread's CPU time, per phase and per step in the loop (h), and how many
cores XLA's threads keep busy in the bare update (c: their CPU time over wall time, the main
thread's dispatching left out). If the two packed perfectly onto the N usable cores, a step would
take max(bare, (bare * c + h) / N): an estimate of the best the loop can do here (c counts any
spinning of XLA's idle workers, which would give way to the host, so the estimate errs high).
"""

import argparse
import collections
import functools
import os
import tempfile
import time

import numpy as np

from bench.seeds import bench_config
from bench.vmap_faults import vmapped_update
from sac_jax import loop, replay, sharding

vmap_seeds = loop.vmap_seeds  # the loop's own, before `instrument` wraps it
totals = collections.defaultdict(float)  # wall seconds per phase, from the second update on
cpu_totals = collections.defaultdict(float)  # the main thread's CPU seconds per phase
dispatches = []  # (perf_counter(), thread_time()) at each update dispatch


def timed(name, fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        t, cpu = time.perf_counter(), time.thread_time()
        out = fn(*args, **kwargs)
        if len(dispatches) > 1:  # the first update compiles
            totals[name] += time.perf_counter() - t
            cpu_totals[name] += time.thread_time() - cpu
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


def bare_update(obs_dim: int, act_dim: int, num_seeds: int, calls: int = 200) -> tuple[float, float]:
    """ms per call of the loop's jitted update, vmapped over the same seeds, on random batches, and
    the cores XLA's threads keep busy (the process's CPU time but this thread's, over wall time)."""
    import jax

    update, state, batches = vmapped_update(obs_dim, act_dim, num_seeds)
    state = jax.block_until_ready(update(state, batches)[0])
    t, cpu, own = time.perf_counter(), time.process_time(), time.thread_time()
    for _ in range(calls):
        state, _ = update(state, batches)
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
    per_step = lambda seconds: 1e3 * seconds / (len(dispatches) - 1)  # noqa: E731
    phases = {name: (per_step(total), per_step(cpu_totals[name])) for name, total in totals.items()}
    env = loop.make_env(args.env, 0)
    bare, cores_busy = bare_update(env.observation_space.shape[0], env.action_space.shape[0], args.seeds)
    cores = len(os.sched_getaffinity(0))
    packed_ms = max(bare, (bare * cores_busy + host_cpu_ms) / cores)

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.env}, {args.seeds} seed(s), "
          f"{updates} update steps, load {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    wall_sum, cpu_sum = (sum(ms[i] for ms in phases.values()) for i in (0, 1))
    print("| per env step, after learning starts | ms (wall) | ms (main thread CPU) |\n|---|---|---|")
    print(f"| loop step | {step_ms:.3f} ({1e3 / step_ms:.0f} steps/s) | {host_cpu_ms:.3f} (h) |")
    for name, (ms, cpu) in sorted(phases.items(), key=lambda kv: -kv[1][0]):
        print(f"| {name} | {ms:.3f} | {cpu:.3f} |")
    print(f"| other host work (exploration dispatch, bookkeeping) | {step_ms - wall_sum:.3f} | "
          f"{host_cpu_ms - cpu_sum:.3f} |")
    print(f"| host work, the wait left out | {step_ms - phases['wait for actions (+ log pulls)'][0]:.3f} | |")
    print(f"| bare update at the same sizes, ms per call | {bare:.3f} (loop / bare: {bare / step_ms:.2f}) | |")
    print(f"| bare update: cores XLA's threads keep busy (c) | {cores_busy:.2f} of {cores} | |")
    print(f"| step if host and update packed perfectly, max(bare, (bare * c + h) / cores) | {packed_ms:.3f} "
          f"(loop / bare: {bare / packed_ms:.2f}) | |")


if __name__ == "__main__":
    main()
