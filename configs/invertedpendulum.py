"""InvertedPendulum-v5 (MuJoCo): a quick check; a solved policy balances all 1000 steps (return 1000)."""

from sac_jax.config import default_config


def get_config():
    c = default_config()
    c.env_id = "InvertedPendulum-v5"
    c.total_steps = 20_000
    c.learning_starts = 1_000
    c.eval_interval = 2_000
    c.eval_episodes = 10
    c.log_interval = 1_000
    return c
