"""The thin training loop: act, step, store, update, evaluate, log, checkpoint.

Per env step the host does one small device call (the exploration action, which the env needs)
and dispatches one update without waiting for it: the env steps while the update runs. Metrics
stay on the device until a log interval.
"""

import os
import signal
import time

import gymnasium as gym
import jax
import ml_collections
import numpy as np

from sac_jax import config as config_lib
from sac_jax.checkpointing import Checkpointer, LoopState, StopRequest, WorkdirLock
from sac_jax.envs import env_dims, make_env
from sac_jax.normalization import update_stats
from sac_jax.replay import ReplayBuffer
from sac_jax.state import create_state
from sac_jax.update import select_action, update_steps
from sac_jax.writers import Progress, RunWriter

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


def default_workdir(config: ml_collections.ConfigDict) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return os.path.join("runs", f"{config.env_id}_seed{config.seed}_{stamp}")


def train(
    config: ml_collections.ConfigDict, workdir: str, quiet: bool = False, update_fn=update_steps
) -> dict:
    """Train SAC as `config` says; write all outputs to `workdir`. Returns the last eval row.

    `update_fn(state, batches) -> (state, metrics)` consumes batches shaped
    (num_critic_updates, batch_size, ...); pass `sac_jax.make_update_steps(my_step)` for a variant.

    If `workdir` holds checkpoints, training continues from the latest one (see
    docs/checkpoints.md). On SIGINT/SIGTERM it saves a checkpoint and raises SystemExit(128 + signal).
    """
    config_lib.validate(config)
    log = (lambda *_: None) if quiet else (lambda msg: print(msg, flush=True))

    env = make_env(config.env_id, config.seed)
    eval_env = make_env(config.env_id, config.seed + 1)
    obs_dim, action_dim = env_dims(env)
    state = create_state(config, obs_dim, action_dim)
    buffer = ReplayBuffer(config.buffer_size, obs_dim, action_dim, seed=config.seed)
    run = LoopState(
        obs=env.reset(seed=config.seed)[0],
        random_actions=np.random.default_rng(config.seed),
        update_start=config.learning_starts,
    )
    explore_key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 1)
    explore = jax.jit(
        lambda actor, o, t, stats: select_action(actor, o, jax.random.fold_in(explore_key, t), stats)
    )
    obs_stats = (lambda s: s.obs_stats) if config.normalize_obs else (lambda s: None)

    with WorkdirLock(workdir), Checkpointer(workdir, config) as ckpt, StopRequest() as stop:
        state, run = ckpt.restore_or_init(state, run, env, buffer)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2))
        writer = RunWriter(workdir, resume_step=run.step)
        progress = Progress(config.total_steps, start_step=run.step)
        log(f"sac_jax: {config.env_id} (obs {obs_dim}, action {action_dim}), seed {config.seed}, "
            f"{config.total_steps} steps, workdir {workdir}"
            + (f", resumed at step {run.step}" if run.step else ""))  # fmt: skip

        if run.step >= config.total_steps:
            log(f"Nothing to do: the checkpoint is at step {run.step} >= total_steps "
                f"{config.total_steps}; pass a larger --config.total_steps to continue.")  # fmt: skip
        metrics = None
        for step in range(run.step + 1, config.total_steps + 1):
            if step <= config.learning_starts:
                action = run.random_actions.uniform(-1.0, 1.0, action_dim).astype(np.float32)
            else:
                obs = run.obs.astype(np.float32)
                action = np.asarray(explore(state.actor, obs, step, obs_stats(state)))
            if step > run.update_start:
                batches = buffer.sample(config.batch_size, config.num_critic_updates)
                state, metrics = update_fn(state, batches)  # async: the env steps meanwhile

            next_obs, reward, terminated, truncated, _ = env.step(action)
            buffer.add(run.obs, action, reward, terminated, truncated, next_obs)
            run.episode_return += float(reward)
            if terminated or truncated:
                run.end_episode()
                run.obs, _ = env.reset()
            else:
                run.obs = next_obs
            run.step = step
            if config.normalize_obs and step % OBS_STATS_INTERVAL == 0:
                # The newest buffer rows: raw observations, reset and final ones included.
                newest = buffer.latest_obs(OBS_STATS_INTERVAL)
                state = state.replace(obs_stats=update_stats(state.obs_stats, newest))

            if step % config.eval_interval == 0 or step == config.total_steps:
                returns = evaluate(
                    state.actor, eval_env, config.eval_episodes, config.seed + step, obs_stats(state)
                )
                run.last_eval = dict(return_mean=float(returns.mean()), return_std=float(returns.std()))
                run.eval_step = step
                writer.write_eval(step, run.last_eval)
            if step % config.log_interval == 0 or step == config.total_steps:
                sps = progress.rate(step)
                row = {"steps_per_sec": sps}
                if run.last_episode_return is not None:
                    row["episode_return"] = run.last_episode_return
                if metrics is not None:
                    row.update({k: float(v) for k, v in jax.device_get(metrics).items()})
                writer.write_train(step, row)
                log(progress.line(step, sps, run.last_eval.get("return_mean"), row.get("alpha")))

            if step % config.checkpoint_interval == 0 or step == config.total_steps or stop.signum:
                ckpt.save(state, run, env, buffer)
            if stop.signum:
                name = signal.Signals(stop.signum).name
                log(f"Stopped by {name} at step {step}; saved a checkpoint in {ckpt.directory}. "
                    f"To resume, run the same command with --workdir {workdir}")  # fmt: skip
                break
        writer.close()
    env.close()
    eval_env.close()
    if stop.signum:
        raise SystemExit(128 + stop.signum)
    return run.last_eval
