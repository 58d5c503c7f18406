"""DeepMind Control Suite tasks (pip install -e ".[dmc]"): SAC with the paper's settings.

python train.py --config configs/dmc.py --config.env_id=dm_control/walker-walk-v0
"""

from sac_jax.config import task


def get_config():
    return task(
        "dm_control/cartpole-swingup-v0",
        learning_starts=5_000,
        eval_interval=10_000,
    )
