"""The thin training loop: act, step, store, update, evaluate, log, checkpoint.

The loop always runs on a seed axis: `config.num_seeds` seeds (one is the ordinary case) share one
vmapped state, sharded over the devices. Per env step the host dispatches one small device call for
all seeds (the exploration actions, which the envs need) and one vmapped update, queued behind it,
and waits only for the actions: the device goes from update to update while the host samples the
next batches and steps the envs. Metrics stay on the device until a log interval. Seed i's run
is the single-seed run of seed `config.seed + i`: every random stream (env, warm-up actions,
exploration keys, network init, buffer sampling) is derived from that seed alone.
"""

import contextlib
import functools
import glob
import os
import signal
import time

import gymnasium as gym
import jax
import ml_collections
import numpy as np

from sac_jax import config as config_lib
from sac_jax.checkpointing import (
    Checkpointer,
    CheckpointError,
    LoopState,
    StopRequest,
    WorkdirLock,
    checkpoint_dir,
)
from sac_jax.envs import env_dims, make_env
from sac_jax.hostmem import reuse_freed_memory
from sac_jax.normalization import update_stats
from sac_jax.replay import ReplayBuffers
from sac_jax.runs import Run, expand_runs, run_config, stacked_values, swept_fields
from sac_jax.sharding import all_processes, placement, process_dirs, seed_slice, stack_seeds
from sac_jax.state import create_state
from sac_jax.update import select_action, update_steps
from sac_jax.writers import Progress, RunWriter, log_dirs, truncate_logs

OBS_STATS_INTERVAL = 1_000  # env steps between merges of the newest observations into obs_stats

def evaluate(
    actor, env: gym.Env, episodes: int, seed: int, obs_stats=None, frames: list | None = None
) -> np.ndarray:
    """Undiscounted returns of `episodes` deterministic (tanh-mean) episodes.

    `obs_stats`: the state's observation statistics when it was trained with normalize_obs.
    With a `frames` list (and an env made with render_mode="rgb_array"), the first episode's
    rendered frames are appended to it.
    """
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        record = frames is not None and i == 0
        if record:
            frames.append(env.render())
        done = False
        while not done:
            action = np.asarray(select_action(actor, obs.astype(np.float32), None, obs_stats))
            obs, reward, terminated, truncated, _ = env.step(action)
            returns[i] += reward
            done = terminated or truncated
            if record:
                frames.append(env.render())
    return returns


@functools.cache
def vmap_seeds(update_fn, where):
    """`update_fn` over a leading seed axis, jitted (donating the state) once per (update_fn,
    placement), so a test can check that a run compiled its update once. Fixed in and out
    shardings: every call then has the first call's signature."""
    return jax.jit(
        jax.vmap(update_fn),
        in_shardings=(where.per_seed, where.batches),
        out_shardings=where.per_seed,
        donate_argnums=0,
    )


def default_workdir(config: ml_collections.ConfigDict) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    last = config.seed + config.num_seeds - 1
    name = f"seed{config.seed}" if config.num_seeds == 1 else f"seeds{config.seed}-{last}"
    fields = swept_fields(config)
    if fields:
        name = f"sweep-{'-'.join(fields)}_{name}"
    return os.path.join("runs", f"{config.env_id}_{name}_{stamp}")


def checkpointers(
    stack: contextlib.ExitStack, workdir: str, config, runs: list[Run], all_runs: int
) -> list[Checkpointer]:
    """One Checkpointer per run of `runs` (this process's, of `all_runs` in all): WORKDIR/checkpoints/
    for a single run, else WORKDIR/RUN_NAME/checkpoints/ (e.g. seed3/, or tau=0.01,seed3/ in a
    sweep), each a single-run checkpoint usable by evaluate and load_policy as it is."""
    single = os.path.isdir(checkpoint_dir(workdir))
    multi = glob.glob(os.path.join(workdir, "*seed*", "checkpoints"))
    if (all_runs == 1 and multi and not single) or (all_runs > 1 and single):
        raise CheckpointError(
            f"workdir {workdir!r} holds the checkpoints of {'several runs' if multi else 'one run'}, "
            f"and this config trains {all_runs}; use the num_seeds, seed and sweep the workdir was "
            "started with, or another --workdir"
        )
    if all_runs == 1:
        return [stack.enter_context(Checkpointer(workdir, config))]
    return [
        stack.enter_context(Checkpointer(os.path.join(workdir, run.name), run_config(config, run)))
        for run in runs
    ]


def restore_or_init(ckpts, state, runs, envs, buffers):
    """Every run from the newest checkpoint step that all runs (of all processes) have (a process
    killed between two runs' saves continues from the step before), or all fresh when no run has
    one."""
    latest = all_processes([c.latest_step() for c in ckpts])
    if all(step is None for step in latest):
        return state, runs
    if None in latest:
        missing = [i for i, step in enumerate(latest) if step is None]
        raise CheckpointError(
            f"some runs in this workdir have checkpoints but run(s) {missing} (in the order of "
            "sac_jax.runs.expand_runs) have none; use the num_seeds, seed and sweep the runs were "
            "started with, or another --workdir"
        )
    step = min(latest)
    states, runs = zip(*(
        c.restore_or_init(seed_slice(state, i), runs[i], envs[i], buffers[i], step=step)
        for i, c in enumerate(ckpts)
    ))  # fmt: skip
    return stack_seeds(states), list(runs)


def train(
    config: ml_collections.ConfigDict, workdir: str, quiet: bool = False, update_fn=update_steps
) -> dict:
    """Train SAC as `config` says; write all outputs to `workdir`. Returns the last eval row (of the
    first seed).

    `update_fn(state, batches) -> (state, metrics)` consumes one seed's batches shaped
    (num_critic_updates, batch_size, ...); pass `sac_jax.make_update_steps(my_step)` for a variant.
    The loop vmaps it over the runs (seeds times sweep points, `sac_jax.runs`).

    If `workdir` holds checkpoints, training continues from the latest one (see
    docs/checkpoints.md). On SIGINT/SIGTERM it saves a checkpoint and raises SystemExit(128 + signal).
    It sets the process's malloc to keep freed memory (`sac_jax.hostmem.reuse_freed_memory`), or
    an update with large buffers, such as many vmapped seeds, page-faults them in on every call.
    """
    config_lib.validate(config)
    log = (lambda *_: None) if quiet else (lambda msg: print(msg, flush=True))
    all_specs = expand_runs(config)
    reuse_freed_memory(one_arena=len(all_specs) > 1)
    where = placement(len(all_specs), config.batch_size, config.shard)
    specs = [all_specs[i] for i in where.seeds]  # this process's runs; all of them in one process
    seeds = [spec.seed for spec in specs]
    swept = swept_fields(config)

    envs = [make_env(config.env_id, s) for s in seeds]
    eval_envs = [make_env(config.env_id, s + 1) for s in seeds]
    obs_dim, action_dim = env_dims(envs[0])
    keys = np.stack([jax.random.PRNGKey(s) for s in seeds])
    state = jax.vmap(lambda key, values: create_state(config, obs_dim, action_dim, key, values))(
        keys, stacked_values(specs)
    )
    buffers = ReplayBuffers(config.buffer_size, obs_dim, action_dim, seeds)
    runs = [
        LoopState(
            obs=env.reset(seed=s)[0],
            random_actions=np.random.default_rng(s),
            update_start=config.learning_starts,
        )
        for env, s in zip(envs, seeds)
    ]
    explore_keys = where.put(np.stack([jax.random.fold_in(k, 1) for k in keys]))
    explore = jax.jit(jax.vmap(
        lambda actor, o, key, t, stats: select_action(actor, o, jax.random.fold_in(key, t), stats),
        in_axes=(0, 0, 0, None, 0),
    ))  # fmt: skip
    update = vmap_seeds(update_fn, where)
    obs_stats = (lambda s: s.obs_stats) if config.normalize_obs else (lambda s: None)

    dirs = process_dirs(workdir)
    with contextlib.ExitStack() as stack:
        # A one-process run locks the workdir alone; the processes of a distributed run share its
        # lock and each holds its own folder's, so no two runs of either kind write one workdir.
        stack.enter_context(WorkdirLock(workdir, shared=len(dirs) > 1))
        if len(dirs) > 1:
            stack.enter_context(WorkdirLock(dirs[jax.process_index()]))
        ckpts = checkpointers(stack, workdir, config, specs, len(all_specs))
        stop = stack.enter_context(StopRequest())
        state, runs = restore_or_init(ckpts, state, runs, envs, buffers)
        state = where.put(state)
        start = runs[0].step
        if jax.process_index() == 0:  # one writer: every process has the same config
            with open(os.path.join(workdir, "config.json"), "w") as f:
                f.write(config.to_json_best_effort(indent=2))
            for other in set(log_dirs(workdir)) - set(dirs):  # rows of other process counts' runs
                truncate_logs(other, start)
        writer = RunWriter(dirs[jax.process_index()], resume_step=start, multi_run=len(all_specs) > 1)
        progress = Progress(config.total_steps, start_step=start)
        log(f"sac_jax: {config.env_id} (obs {obs_dim}, action {action_dim}), "
            + (f"seed {seeds[0]}" if len(set(seeds)) == 1 else f"seeds {min(seeds)}..{max(seeds)}")
            + "".join(f", {f} in {config[f]}" for f in swept)
            + (f" ({len(specs)} runs)" if swept else "")
            + f" on {where.devices} device(s) ({config.shard} axis split), {jax.process_count()} "
            + f"process(es), {config.total_steps} steps, workdir {workdir}"
            + (f", resumed at step {start}" if start else ""))  # fmt: skip

        if start >= config.total_steps:
            log(f"Nothing to do: the checkpoint is at step {start} >= total_steps "
                f"{config.total_steps}; pass a larger --config.total_steps to continue.")  # fmt: skip
        metrics = None
        update_start = runs[0].update_start  # equal for all seeds: one config, one restored step
        for step in range(start + 1, config.total_steps + 1):
            obs = np.stack([run.obs for run in runs]).astype(np.float32)
            if step <= config.learning_starts:
                actions = np.stack([
                    run.random_actions.uniform(-1.0, 1.0, action_dim).astype(np.float32)
                    for run in runs
                ])  # fmt: skip
            else:  # dispatched, not awaited: it runs after the previous update
                actions = explore(state.actor, where.feed(obs), explore_keys, step, obs_stats(state))
            if step > update_start:
                # Queued behind the exploration call (JAX lets it read the actor before this
                # donates it), so the device goes from one update to the next without waiting for
                # the host.
                batches = buffers.sample(config.batch_size, config.num_critic_updates)
                state, metrics = update(state, where.feed(batches, batches=True))
            actions = where.local(actions)  # the one wait per step; the update runs on meanwhile

            next_obs, rewards, terminated, truncated, _ = zip(*(
                env.step(action) for env, action in zip(envs, actions)
            ))  # fmt: skip
            buffers.add(obs, actions, rewards, terminated, truncated, np.stack(next_obs))
            ended = np.logical_or(terminated, truncated)
            for env, run, reward, o, end in zip(envs, runs, rewards, next_obs, ended):
                run.episode_return += float(reward)
                if end:
                    run.end_episode()
                    run.obs, _ = env.reset()
                else:
                    run.obs = o
                run.step = step
            if config.normalize_obs and step % OBS_STATS_INTERVAL == 0:
                # The newest buffer rows: raw observations, reset and final ones included.
                newest = where.put(np.stack([b.latest_obs(OBS_STATS_INTERVAL) for b in buffers.buffers]))
                state = state.replace(obs_stats=jax.vmap(update_stats)(state.obs_stats, newest))

            if step % config.eval_interval == 0 or step == config.total_steps:
                actors, stats = jax.device_put(where.local((state.actor, obs_stats(state))))
                for i, run in enumerate(runs):
                    returns = evaluate(
                        seed_slice(actors, i), eval_envs[i], config.eval_episodes, seeds[i] + step,
                        seed_slice(stats, i),
                    )  # fmt: skip
                    run.last_eval = dict(return_mean=float(returns.mean()), return_std=float(returns.std()))
                    run.eval_step = step
                    writer.write_eval(step, specs[i], run.last_eval)
            if step % config.log_interval == 0 or step == config.total_steps:
                sps = progress.rate(step)
                host_metrics = where.local(metrics) if metrics is not None else {}
                for i, run in enumerate(runs):
                    row = {"steps_per_sec": sps}
                    if run.last_episode_return is not None:
                        row["episode_return"] = run.last_episode_return
                    row.update({k: float(v[i]) for k, v in host_metrics.items()})
                    writer.write_train(step, specs[i], row)
                eval_means = [r.last_eval["return_mean"] for r in runs if "return_mean" in r.last_eval]
                eval_mean = float(np.mean(eval_means)) if eval_means else None
                alpha = float(np.mean(host_metrics["alpha"])) if "alpha" in host_metrics else None
                log(progress.line(step, sps, eval_mean, alpha))

            if step % config.checkpoint_interval == 0 or step == config.total_steps or stop.signum:
                host_state = where.local(state)
                for i, ckpt in enumerate(ckpts):
                    ckpt.save(seed_slice(host_state, i), runs[i], envs[i], buffers[i])
            if stop.signum:
                name = signal.Signals(stop.signum).name
                saved_in = ckpts[0].directory if len(ckpts) == 1 else os.path.join(workdir, "*seed*")
                log(f"Stopped by {name} at step {step}; saved a checkpoint in {saved_in}. "
                    f"To resume, run the same command with --workdir {workdir}")  # fmt: skip
                break
        writer.close()
    for env in envs + eval_envs:
        env.close()
    if stop.signum:
        raise SystemExit(128 + stop.signum)
    return runs[0].last_eval
