"""DroQ (Hiraoka et al. 2022, "Dropout Q-Functions for Doubly Efficient Reinforcement Learning"):
two critics with dropout 0.01 and LayerNorm, REDQ's backup and actor at N = M = 2 (the min of both
target critics, the actor on their mean), 20 critic updates per env step and the actor once, over
the paper's 300k steps (Hopper: 125k)."""

from sac_jax.config import task


def get_config():
    return task(
        "Walker2d-v5",
        critic_dropout=0.01,
        critic_layer_norm=True,
        num_critics=2,
        backup="redq",
        redq_subset=2,
        num_critic_updates=20,
        actor_update_period=20,
        total_steps=300_000,
    )
