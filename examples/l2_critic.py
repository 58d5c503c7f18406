"""A new SAC variant from the public pieces: the critic loss gets an L2 penalty on its weights.

    python examples/l2_critic.py --config configs/pendulum.py --workdir runs/l2_critic

Nothing is copied: the default target, actor loss, temperature and target update are reused,
`sac_step` composes them with the new critic loss, and `make_update_steps` fuses and jits it
for the unchanged training loop.
"""

import functools

import jax
import jax.numpy as jnp
from absl import app, flags
from ml_collections import config_flags

import sac_jax
from sac_jax.loop import train
from sac_jax.workdir import default_workdir

L2 = 1e-4


def l2_critic_loss(critic_params, state, batch, target):
    """J_Q (eq. 5) + L2 * |theta|^2."""
    loss, info = sac_jax.critic_loss(critic_params, state, batch, target)
    penalty = L2 * sum(jnp.sum(jnp.square(p)) for p in jax.tree.leaves(critic_params))
    return loss + penalty, {**info, "critic_l2": penalty}


update_fn = sac_jax.make_update_steps(
    functools.partial(sac_jax.sac_step, critic_loss_fn=l2_critic_loss)
)

_CONFIG = config_flags.DEFINE_config_file("config", None, "Path to a config file.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Output directory.")
flags.mark_flags_as_required(["config"])


def main(_):
    config = _CONFIG.value
    train(config, _WORKDIR.value or default_workdir(config), update_fn=update_fn)


if __name__ == "__main__":
    app.run(main)
