"""LunarLanderContinuous-v3 (Box2D): solved at an eval return >= 200."""

from sac_jax.config import task


def get_config():
    return task("LunarLanderContinuous-v3", total_steps=200_000, learning_starts=10_000)
