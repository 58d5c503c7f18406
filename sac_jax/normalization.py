"""Running observation statistics, held in the train state and applied inside jitted functions.

The buffer keeps raw observations; every jitted consumer normalizes with the *current* statistics,
so old samples are never frozen under stale ones (the tutorial's insertion-time normalization bug).
"""

import flax
import jax
import jax.numpy as jnp

CLIP = 10.0  # normalized observations are clipped to [-CLIP, CLIP] against early outliers
EPS = 1e-8


@flax.struct.dataclass
class RunningStats:
    """Count, mean and (population) variance of everything merged so far."""

    count: jax.Array
    mean: jax.Array
    var: jax.Array

    @classmethod
    def create(cls, dim: int) -> "RunningStats":
        """Empty statistics: mean 0, variance 1, so normalizing with them is the identity."""
        return cls(
            jnp.zeros((), jnp.float32), jnp.zeros(dim, jnp.float32), jnp.ones(dim, jnp.float32)
        )


@jax.jit
def update_stats(stats: RunningStats, obs: jax.Array) -> RunningStats:
    """Merge a chunk of observations (n, dim) into `stats` (Chan et al.'s parallel variance merge).

    n = n_a + n_b, delta = mean_b - mean_a, mean = mean_a + delta * n_b / n,
    M2 = M2_a + M2_b + delta^2 * n_a * n_b / n, var = M2 / n.
    """
    n_a, n_b = stats.count, jnp.asarray(obs.shape[0], jnp.float32)
    mean_b, var_b = obs.mean(axis=0), obs.var(axis=0)
    n = n_a + n_b
    delta = mean_b - stats.mean
    m2 = stats.var * n_a + var_b * n_b + jnp.square(delta) * n_a * n_b / n
    return RunningStats(count=n, mean=stats.mean + delta * n_b / n, var=m2 / n)


def normalize(stats: RunningStats, obs: jax.Array) -> jax.Array:
    """(obs - mean) / sqrt(var + eps), clipped to [-CLIP, CLIP]."""
    return jnp.clip((obs - stats.mean) / jnp.sqrt(stats.var + EPS), -CLIP, CLIP)
