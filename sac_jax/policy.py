"""`load_policy`: a trained actor from a checkpoint, as a plain function of observations."""

from collections.abc import Mapping

import jax
import numpy as np

from sac_jax.acting import select_action
from sac_jax.checkpointing import Checkpointer, host_zeros_like
from sac_jax.config import from_json
from sac_jax.state import create_state, variables


class Policy:
    """`policy(obs) -> action` for the env of the checkpoint it came from.

    Actions are in the env's own bounds (`low`, `high`), so they go straight into
    `gym.make(policy.env_id).step(...)`. (The agent acts in [-1, 1]; `sac_jax.envs.make_env` maps
    that to the bounds, and `select_action(policy.actor, obs)` gives the [-1, 1] action.)
    """

    def __init__(self, actor, obs_stats, loop: dict, config, step: int, seed: int = 0):
        env = loop["env"]
        self.actor, self.obs_stats, self.config, self.step = actor, obs_stats, config, step
        self.env_id, self.obs_dim, self.action_dim = (
            env["env_id"],
            env["obs_dim"],
            env["action_dim"],
        )
        self.obs_keys = [(k, tuple(shape)) for k, shape in env.get("obs_keys", [])]  # Dict envs
        self.low = np.asarray(env["action_low"], np.float32)
        self.high = np.asarray(env["action_high"], np.float32)
        self._key = jax.random.PRNGKey(seed)

    def __call__(self, obs, deterministic: bool = True, key: jax.Array | None = None) -> np.ndarray:
        """Action(s) for one observation (obs_dim,) or a batch (B, obs_dim); for a Dict env also
        its dict of arrays, flattened in the env's key order as training saw it.

        deterministic=True: tanh of the Gaussian mean (SAC's evaluation action). Otherwise a sample
        from the policy, drawn with `key`, or with the policy's own key stream when key is None.
        """
        if not deterministic and key is None:
            self._key, key = jax.random.split(self._key)
        obs = self.flatten(obs) if isinstance(obs, Mapping) else np.asarray(obs, np.float32)
        unit = np.asarray(
            select_action(self.actor, obs, None if deterministic else key, self.obs_stats)
        )
        return self.low + (unit + 1.0) * 0.5 * (self.high - self.low)

    def flatten(self, obs: Mapping) -> np.ndarray:
        """A Dict env's observation (one, or a batch along a leading axis) as its flat vector."""
        if not self.obs_keys:
            raise ValueError(f"{self.env_id} has flat observations; pass an array, not a dict")
        parts = [np.asarray(obs[key], np.float32) for key, _ in self.obs_keys]
        lead = parts[0].shape[: parts[0].ndim - len(self.obs_keys[0][1])]  # () or (batch,)
        return np.concatenate([p.reshape(*lead, -1) for p in parts], axis=-1)


def load_policy(workdir: str, step: int | None = None, seed: int = 0) -> Policy:
    """The policy of a run's checkpoint (default: the latest), on this machine's default device.

    Reads only the actor's parameters (and running statistics, with batch_renorm): no optimizer,
    critics or replay buffer. Raises
    `sac_jax.checkpointing.CheckpointError` naming the problem when there is no usable checkpoint.
    `seed` seeds the key stream of stochastic actions drawn without an explicit key.
    """
    with Checkpointer(workdir) as ckpt:
        step, loop, saved_config = ckpt.metadata(step)
        config = from_json(saved_config)
        env = loop["env"]
        full = host_zeros_like(lambda: create_state(config, env["obs_dim"], env["action_dim"]))
        template = {"actor": variables(full.actor)}
        if config.normalize_obs:
            template["obs_stats"] = full.obs_stats
        restored, _ = ckpt.restore_arrays(step, template, partial=True)
    actor = full.actor.replace(step=0, tx=None, opt_state=None, **jax.device_put(restored["actor"]))
    obs_stats = jax.device_put(restored["obs_stats"]) if config.normalize_obs else None
    return Policy(actor, obs_stats, loop, config, step, seed)
