"""Load an exported policy (`python -m sac_jax.export`) with nothing but jax and NumPy.

Kept apart from the exporter so that deploying a policy needs neither flax nor the rest of sac_jax:
this file imports only jax and NumPy, and may be copied on its own next to the artifact.
"""

import jax
import numpy as np


def load_exported(path: str):
    """`policy(obs) -> action` from a `jax.export` artifact written by `sac_jax.export`.

    `obs`: one observation (obs_dim,) or a batch (B, obs_dim) of any size; actions come back as
    float32 NumPy arrays in the env's own bounds, shaped (action_dim,) or (B, action_dim). The
    artifact holds the deterministic policy (tanh of the Gaussian mean) with observation
    normalization and rescaling built in, so it needs no other file.
    """
    with open(path, "rb") as f:
        exported = jax.export.deserialize(bytearray(f.read()))

    def policy(obs) -> np.ndarray:
        obs = np.asarray(obs, np.float32)
        if obs.ndim == 1:
            return np.asarray(exported.call(obs[None]))[0]
        return np.asarray(exported.call(obs))

    return policy
