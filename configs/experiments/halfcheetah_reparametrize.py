"""HalfCheetah reference for the REINFORCE runs: how fast does the reparametrized gradient learn?"""

from sac_jax.config import default_config


def get_config():
    c = default_config()
    c.env_id = "HalfCheetah-v5"
    c.total_steps = 200_000
    c.learning_starts = 5_000
    c.eval_interval = 5_000
    c.eval_episodes = 5
    c.actor_gradient = "reparametrize"
    return c
