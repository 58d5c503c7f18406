"""Batch Renormalization (Ioffe 2017, "Batch Renormalization: Towards Reducing Minibatch Dependence
in Batch-Normalized Models", Algorithm 1), the normalization of CrossQ's actor and critics."""

import flax.linen as nn
import jax
import jax.numpy as jnp


class BatchRenorm(nn.Module):
    """Normalizes each feature (last axis) of x, then y = scale * x_hat + bias (learned).

    Training mode, i.e. whenever the call may write the "batch_stats" collection
    (`apply(..., mutable=["batch_stats"])`), with mu_B, var_B the batch's mean and variance over
    all leading axes, sigma_B = sqrt(var_B + eps), and the running mu, sigma = sqrt(var + eps):

        r = clip(sigma_B / sigma, 1 / r_max, r_max),  d = clip((mu_B - mu) / sigma, -d_max, d_max)
        x_hat = (x - mu_B) / sigma_B * r + d

    r and d are constants to the gradient (stop_gradient), which flows through mu_B and sigma_B as
    in batch norm. Then mu <- momentum * mu + (1 - momentum) * mu_B, var likewise with var_B, and
    the count of training passes `steps` grows by one. For the first `warmup` training passes
    r = 1 and d = 0: plain batch normalization, while the running statistics are still far from
    the data's.

    Evaluation mode (every other call): x_hat = (x - mu) / sigma, the running statistics, which
    r and d pull the training-mode output towards.
    """

    momentum: float = 0.99
    r_max: float = 3.0
    d_max: float = 5.0
    warmup: int = 100_000
    epsilon: float = 1e-3

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        features = x.shape[-1:]
        mu = self.variable("batch_stats", "mean", jnp.zeros, features, jnp.float32)
        var = self.variable("batch_stats", "var", jnp.ones, features, jnp.float32)
        steps = self.variable("batch_stats", "steps", jnp.zeros, (), jnp.int32)
        scale = self.param("scale", nn.initializers.ones, features)
        bias = self.param("bias", nn.initializers.zeros, features)
        sigma = jnp.sqrt(var.value + self.epsilon)
        if not self.is_mutable_collection("batch_stats") or self.is_initializing():
            return (x - mu.value) / sigma * scale + bias
        axes = tuple(range(x.ndim - 1))
        mu_b, var_b = x.mean(axes), x.var(axes)
        sigma_b = jnp.sqrt(var_b + self.epsilon)
        renorm = steps.value >= self.warmup
        r = jnp.where(renorm, jnp.clip(sigma_b / sigma, 1.0 / self.r_max, self.r_max), 1.0)
        d = jnp.where(renorm, jnp.clip((mu_b - mu.value) / sigma, -self.d_max, self.d_max), 0.0)
        x_hat = (x - mu_b) / sigma_b * jax.lax.stop_gradient(r) + jax.lax.stop_gradient(d)
        mu.value = self.momentum * mu.value + (1.0 - self.momentum) * mu_b
        var.value = self.momentum * var.value + (1.0 - self.momentum) * var_b
        steps.value = steps.value + 1
        return x_hat * scale + bias
