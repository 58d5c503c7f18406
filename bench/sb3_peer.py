"""Stable-Baselines3's SAC as a trusted peer, trained on a sac_jax config's env and settings:

    python -m bench.sb3_peer --config configs/ant.py --workdir runs/sb3/ant_seed0 \
        --config.total_steps=300000 --config.seed=0

When sac_jax falls short of a published number, the same env and settings in another trusted
library tell the library from the env version or the settings. The env is made as `train.py`
makes it (`sac_jax.envs.make_env`, actions in [-1, 1]); the fields SB3's SAC has are mapped (one
learning rate for actor, critics and temperature, batch, buffer, gamma, tau, random warm-up,
target entropy, initial temperature, widths, updates per env step), and a config that sets a field
SB3's SAC lacks (a variant) is refused by name. Evaluation is sac_jax's: `eval_episodes`
deterministic episodes every `eval_interval` env steps, reset seeds seed + step + i. It writes
eval.csv (step, seed, return_mean, return_std), which `python -m sac_jax.compare` reads beside
sac_jax's runs, and config.json. One seed per process, no resume; needs the `bench` extra.
"""

import csv
import json
import os
import sys

import numpy as np
from absl import app, flags
from ml_collections import config_flags

from sac_jax.config import ConfigError, default_config, env_kwargs
from sac_jax.envs import make_env

# Fields mapped onto SB3's SAC, or that only sac_jax's loop reads; any other must keep its default.
MAPPED = {
    "env_id", "env_kwargs", "seed", "total_steps", "learning_starts", "eval_interval",
    "eval_episodes", "batch_size", "buffer_size", "num_critic_updates", "n_step", "gamma", "learn_alpha",
    "init_alpha", "target_entropy", "tau", "actor_lr", "critic_lr", "alpha_lr", "hidden_dims",
    "critic_hidden_dims", "bias_episodes", "log_interval", "checkpoint_interval",
    "keep_checkpoints", "checkpoint_buffer", "wandb_project", "wandb_entity",
}  # fmt: skip


def sb3_kwargs(config) -> dict:
    """SB3 SAC's constructor arguments for `config`; ConfigError for what this cannot map.
    One difference stays: SB3 clamps the policy's log-std to [-20, 2], sac_jax squashes it into
    [log_std_min, log_std_max] = [-5, 2]."""
    swept = sorted(k for k in config.keys() if isinstance(config[k], list))
    if swept:
        raise ConfigError(f"{', '.join(swept)}: a sweep; one process here trains one run")
    defaults = default_config()
    unmapped = sorted(k for k in config.keys() if k not in MAPPED and config[k] != defaults.get(k))
    if unmapped:
        changed = ", ".join(f"{k}={config[k]!r}" for k in unmapped)
        raise ConfigError(f"no SB3 equivalent mapped for {changed}; keep the defaults")
    rates = dict(actor_lr=config.actor_lr, critic_lr=config.critic_lr)
    if config.learn_alpha:
        rates["alpha_lr"] = config.alpha_lr
    if len(set(rates.values())) > 1:
        got = ", ".join(f"{k}={v}" for k, v in rates.items())
        raise ConfigError(f"SB3's SAC uses one learning rate for all its optimizers; got {got}")
    if config.critic_hidden_dims not in (None, config.hidden_dims):
        raise ConfigError(
            f"critic_hidden_dims={config.critic_hidden_dims}: SB3's net_arch here gives actor "
            f"and critics the same widths, hidden_dims={config.hidden_dims}"
        )
    return dict(
        learning_rate=config.actor_lr,
        buffer_size=config.buffer_size,
        learning_starts=config.learning_starts,
        batch_size=config.batch_size,
        tau=config.tau,
        gamma=config.gamma,
        train_freq=1,
        gradient_steps=config.num_critic_updates,
        n_steps=config.n_step,
        ent_coef=f"auto_{config.init_alpha}" if config.learn_alpha else config.init_alpha,
        target_entropy="auto" if config.target_entropy is None else config.target_entropy,
        policy_kwargs=dict(net_arch=list(config.hidden_dims)),
        seed=config.seed,
    )


def evaluate(model, env, episodes: int, seed: int) -> np.ndarray:
    """Undiscounted returns of deterministic episodes, reset seeds seed .. seed + episodes - 1."""
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done = False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            returns[i] += reward
            done = terminated or truncated
    return returns


def run(config, workdir: str) -> None:
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    try:
        kwargs = sb3_kwargs(config)
    except ConfigError as e:
        sys.exit(f"error: {e}")
    path = os.path.join(workdir, "eval.csv")
    if os.path.exists(path):
        sys.exit(f"error: {path} exists; this script does not resume, pick a new --workdir")
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump({**config.to_dict(), "library": "stable-baselines3"}, f, indent=2, default=str)
    env, eval_env = (
        make_env(config.env_id, seed, env_kwargs=env_kwargs(config))
        for seed in (config.seed, config.seed + 1)
    )

    class Evaluations(BaseCallback):
        def _on_step(self) -> bool:
            step = self.num_timesteps
            if step % config.eval_interval == 0 or step == config.total_steps:
                returns = evaluate(self.model, eval_env, config.eval_episodes, config.seed + step)
                with open(path, "a", newline="") as f:
                    writer = csv.writer(f)
                    if f.tell() == 0:
                        writer.writerow(["step", "seed", "return_mean", "return_std"])
                    writer.writerow([step, config.seed, returns.mean(), returns.std()])
                print(f"step {step}/{config.total_steps} | eval return {returns.mean():.1f}")
            return True

    model = SAC("MlpPolicy", env, device="cpu", **kwargs)
    model.learn(total_timesteps=config.total_steps, callback=Evaluations())


def main():
    """The command line; its flags are defined here, not on import (tests import this module)."""
    config = config_flags.DEFINE_config_file("config", None, "sac_jax config.", lock_config=True)
    workdir = flags.DEFINE_string("workdir", None, "Output directory (must not hold an eval.csv).")
    flags.mark_flags_as_required(["config", "workdir"])
    app.run(lambda argv: run(config.value, workdir.value))


if __name__ == "__main__":
    main()
