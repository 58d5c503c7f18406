"""HalfCheetah-v5 (MuJoCo), 1M steps with the SAC paper's hyperparameters."""

from sac_jax.config import default_config


def get_config():
    c = default_config()
    c.env_id = "HalfCheetah-v5"
    c.total_steps = 1_000_000
    c.learning_starts = 10_000
    c.eval_interval = 10_000
    c.eval_episodes = 10
    return c
