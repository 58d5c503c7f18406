"""HalfCheetah-v5 (MuJoCo), 1M steps with the SAC paper's hyperparameters."""

from sac_jax.config import task


def get_config():
    return task("HalfCheetah-v5", learning_starts=10_000)
