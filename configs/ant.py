"""Ant-v5 (MuJoCo), 1M steps with the SAC paper's hyperparameters, except three settings of the
published runs that reach 3500 at 300k: Tianshou's fixed temperature 0.2 with learning rates 1e-3,
and Ant-v4's 27-value observation (v5 adds 78 clipped contact forces). Together they end at
2602 +- 575 at 300k against 1510 +- 699 with the paper's settings (3 seeds each,
docs/results/mujoco.md). `--config.learn_alpha=True --config.init_alpha=1.0 --config.actor_lr=3e-4
--config.critic_lr=3e-4 --config.env_kwargs='{}'` restores the paper's settings on Ant-v5's default
observation."""

from sac_jax.config import task


def get_config():
    return task(
        "Ant-v5",
        learning_starts=10_000,
        learn_alpha=False,
        init_alpha=0.2,
        actor_lr=1e-3,
        critic_lr=1e-3,
        env_kwargs={"include_cfrc_ext_in_observation": False},
    )
