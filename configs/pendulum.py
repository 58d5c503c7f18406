"""Pendulum-v1: the quick sanity check (published SAC: about -150 by 20k steps)."""

from sac_jax.config import task


def get_config():
    return task(
        "Pendulum-v1",
        total_steps=20_000,
        learning_starts=1_000,
        eval_interval=2_000,
        log_interval=1_000,
    )
