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
sac_jax's runs, and config.json. It saves the model and its replay buffer every
`checkpoint_interval` env steps, and the same command resumes from the last save (the episode in
progress starts over, and the random streams do not continue exactly). One seed per process;
needs the `bench` extra.
"""

import json
import os
import shutil
import sys

from absl import app, flags
from ml_collections import config_flags

from sac_jax.acting import episode_returns
from sac_jax.config import ConfigError, default_config, env_kwargs
from sac_jax.envs import make_env
from sac_jax.writers import CsvWriter

# Fields mapped onto SB3's SAC, or that only sac_jax's loop reads; any other must keep its default.
MAPPED = {
    "env_id", "env_kwargs", "seed", "total_steps", "learning_starts", "eval_interval",
    "eval_episodes", "batch_size", "buffer_size", "num_critic_updates", "n_step", "gamma", "learn_alpha",
    "init_alpha", "target_entropy", "tau", "actor_lr", "critic_lr", "alpha_lr", "hidden_dims",
    "critic_hidden_dims", "bias_episodes", "log_interval", "checkpoint_interval",
    "keep_checkpoints", "checkpoint_buffer", "wandb_project", "wandb_entity",
}  # fmt: skip
SAVE = "sb3_save"  # WORKDIR/sb3_save/: model.zip and replay_buffer.pkl, every checkpoint_interval


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


def save(model, workdir: str) -> None:
    """The model and its replay buffer, written to a fresh folder and then swapped in, so an
    interrupted save leaves the previous one whole."""
    final = os.path.join(workdir, SAVE)
    fresh, old = final + ".tmp", final + ".old"
    shutil.rmtree(fresh, ignore_errors=True)
    os.makedirs(fresh)
    model.save(os.path.join(fresh, "model.zip"))
    model.save_replay_buffer(os.path.join(fresh, "replay_buffer.pkl"))
    if os.path.exists(final):
        os.replace(final, old)
    os.replace(fresh, final)
    shutil.rmtree(old, ignore_errors=True)


def latest_save(workdir: str) -> str | None:
    """The last complete save (the previous one if a swap was cut short), or None."""
    for folder in (SAVE, SAVE + ".old"):
        if os.path.exists(os.path.join(workdir, folder, "replay_buffer.pkl")):
            return os.path.join(workdir, folder)
    return None


def started_here(workdir: str) -> bool:
    """Whether `workdir` holds a run of this script (its config.json names the library)."""
    try:
        with open(os.path.join(workdir, "config.json")) as f:
            return json.load(f).get("library") == "stable-baselines3"
    except (OSError, ValueError):
        return False


def run(config, workdir: str) -> None:
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    try:
        kwargs = sb3_kwargs(config)
    except ConfigError as e:
        sys.exit(f"error: {e}")
    path = os.path.join(workdir, "eval.csv")
    os.makedirs(workdir, exist_ok=True)
    settings = json.loads(
        json.dumps({**config.to_dict(), "library": "stable-baselines3"}, default=str)
    )
    env, eval_env = (
        make_env(config.env_id, seed, env_kwargs=env_kwargs(config))
        for seed in (config.seed, config.seed + 1)
    )
    saved = latest_save(workdir)
    if saved is None:
        if os.path.exists(path) and not started_here(workdir):
            sys.exit(f"error: {path} exists and is not this script's; pick a new --workdir")
        if os.path.exists(path):
            os.remove(path)  # cut short before its first save: start over
        with open(os.path.join(workdir, "config.json"), "w") as f:
            json.dump(settings, f, indent=2)
        model = SAC("MlpPolicy", env, device="cpu", **kwargs)
    else:
        with open(os.path.join(workdir, "config.json")) as f:
            changed = sorted(k for k, v in json.load(f).items() if settings.get(k) != v)
        if changed:
            sys.exit(f"error: {workdir} was started with other values of {', '.join(changed)}")
        model = SAC.load(os.path.join(saved, "model.zip"), env=env, device="cpu")
        model.load_replay_buffer(os.path.join(saved, "replay_buffer.pkl"))
        CsvWriter(path).truncate(model.num_timesteps)  # later evaluations are redone
        print(f"resumed at step {model.num_timesteps}")

    evals = CsvWriter(path)

    class Evaluations(BaseCallback):
        def _on_step(self) -> bool:
            step, last = self.num_timesteps, self.num_timesteps == config.total_steps
            if step % config.eval_interval == 0 or last:
                returns = episode_returns(
                    lambda obs: self.model.predict(obs, deterministic=True)[0],
                    eval_env,
                    config.eval_episodes,
                    config.seed + step,
                )
                row = dict(step=step, seed=config.seed, return_mean=returns.mean())
                evals.write({**row, "return_std": returns.std()})
                print(f"step {step}/{config.total_steps} | eval return {returns.mean():.1f}")
            if step % config.checkpoint_interval == 0 or last:
                save(self.model, workdir)
            return True

    remaining = config.total_steps - model.num_timesteps
    if remaining > 0:
        model.learn(remaining, callback=Evaluations(), reset_num_timesteps=False)


def main():
    """The command line; its flags are defined here, not on import (tests import this module)."""
    config = config_flags.DEFINE_config_file("config", None, "sac_jax config.", lock_config=True)
    workdir = flags.DEFINE_string("workdir", None, "Output directory; rerun to resume.")
    flags.mark_flags_as_required(["config", "workdir"])
    app.run(lambda argv: run(config.value, workdir.value))


if __name__ == "__main__":
    main()
