"""Flax modules: an MLP torso, the tanh-Gaussian actor and the critic ensemble."""

import functools
from collections.abc import Callable, Sequence

import distrax
import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from sac_jax.batch_renorm import BatchRenorm

ACTIVATIONS: dict[str, Callable] = {
    "relu": nn.relu,
    "tanh": nn.tanh,
    "elu": nn.elu,
    "gelu": nn.gelu,
    "silu": nn.silu,
}


class ConcatDense(nn.Module):
    """A Dense layer on the concatenation of its inputs, computed as sum_i x_i W_i + b.

    The parameters and their init are those of `nn.Dense` on the concatenation (one kernel with
    fan-in sum_i dim(x_i), rows in input order, and a bias); W_i are the kernel's row blocks.
    Summing the blocks instead of concatenating lets autodiff skip an input that needs no
    gradient: J_pi differentiates Q(s, a) with respect to a only, and through a concatenation it
    would compute the gradient for all of [s, a] (at Humanoid sizes, most of it for s).
    """

    features: int

    @nn.compact
    def __call__(self, *inputs: jnp.ndarray) -> jnp.ndarray:
        sizes = [x.shape[-1] for x in inputs]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (sum(sizes), self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        starts = np.cumsum([0, *sizes])
        return sum(x @ kernel[i : i + d] for x, i, d in zip(inputs, starts, sizes)) + bias


class MLP(nn.Module):
    """Dense layers, each followed by optional dropout, optional LayerNorm and the activation (the
    order of DroQ's critics, Hiraoka et al. 2022); several inputs are concatenated on the last axis
    (see `ConcatDense`). With `batch_renorm`, `BatchRenorm` on the input and after every activation
    (CrossQ, Bhatt et al. 2024); it normalizes per feature, so normalizing each input is
    normalizing their concatenation.

    Dropout is active exactly when the call is given a "dropout" RNG (`rngs={"dropout": key}`), and
    Batch Renormalization uses batch statistics exactly when the call may write "batch_stats"
    (`mutable=["batch_stats"]`), so one module serves training and evaluation.
    """

    hidden_dims: Sequence[int]
    activation: str = "relu"
    layer_norm: bool = False
    dropout_rate: float = 0.0
    batch_renorm: bool = False
    renorm_warmup: int = 100_000

    @nn.compact
    def __call__(self, *inputs: jnp.ndarray) -> jnp.ndarray:
        renorm = functools.partial(BatchRenorm, warmup=self.renorm_warmup)
        if self.batch_renorm:
            inputs = tuple(renorm()(x) for x in inputs)
        for i, width in enumerate(self.hidden_dims):
            x = ConcatDense(width, name=f"Dense_{i}")(*inputs)  # the names nn.Dense would get
            if self.dropout_rate:
                x = nn.Dropout(self.dropout_rate, deterministic=not self.has_rng("dropout"))(x)
            if self.layer_norm:
                x = nn.LayerNorm()(x)
            x = ACTIVATIONS[self.activation](x)
            if self.batch_renorm:
                x = renorm()(x)
            inputs = (x,)
        return x


def squashed_gaussian(mean: jnp.ndarray, log_std: jnp.ndarray) -> distrax.Distribution:
    """pi(a|s) = tanh(u), u ~ N(mean, exp(log_std)^2) (SAC paper, appendix C).

    distrax's Tanh bijector computes log|d tanh(u)/du| as 2 * (log 2 - u - softplus(-2u)) from the
    pre-tanh sample, so `sample_and_log_prob` stays finite even where tanh(u) rounds to +-1.
    """
    base = distrax.MultivariateNormalDiag(mean, jnp.exp(log_std))
    return distrax.Transformed(base, distrax.Block(distrax.Tanh(), ndims=1))


class TanhGaussianActor(nn.Module):
    """State -> squashed Gaussian over actions in [-1, 1].

    log_std is squashed smoothly into [log_std_min, log_std_max] with a tanh, which keeps its
    gradient alive at the bounds (a hard clip would zero it). With `state_dependent_std=False` the
    raw log-std is one learned parameter vector shared by all states instead of a network head.
    """

    action_dim: int
    hidden_dims: Sequence[int] = (256, 256)
    activation: str = "relu"
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    state_dependent_std: bool = True
    batch_renorm: bool = False
    renorm_warmup: int = 100_000

    @nn.compact
    def __call__(self, obs: jnp.ndarray) -> distrax.Distribution:
        h = MLP(
            self.hidden_dims,
            self.activation,
            batch_renorm=self.batch_renorm,
            renorm_warmup=self.renorm_warmup,
        )(obs)
        mean = nn.Dense(self.action_dim, name="mean")(h)
        if self.state_dependent_std:
            raw_log_std = nn.Dense(self.action_dim, name="log_std")(h)
        else:
            raw = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
            raw_log_std = jnp.broadcast_to(raw, mean.shape)
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (
            jnp.tanh(raw_log_std) + 1.0
        )
        return squashed_gaussian(mean, log_std)


def deterministic_action(pi: distrax.Distribution) -> jnp.ndarray:
    """tanh of the Gaussian mean: the evaluation action of SAC."""
    return jnp.tanh(pi.distribution.mean())


class Critic(nn.Module):
    """Q(s, a) as an MLP on the concatenation [s, a]: a scalar, or with `num_quantiles` M the
    M quantiles theta^1..theta^M of the return distribution Z(s, a) (TQC), on a last axis."""

    hidden_dims: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    dropout_rate: float = 0.0
    num_quantiles: int | None = None
    batch_renorm: bool = False
    renorm_warmup: int = 100_000

    @nn.compact
    def __call__(self, obs: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        x = MLP(
            self.hidden_dims,
            self.activation,
            self.layer_norm,
            self.dropout_rate,
            self.batch_renorm,
            self.renorm_warmup,
        )(obs, action)
        if self.num_quantiles is None:
            return nn.Dense(1)(x)[..., 0]
        return nn.Dense(self.num_quantiles)(x)


class CriticEnsemble(nn.Module):
    """`num_critics` independent critics as one module; returns Q of shape (num_critics, ...), with
    quantile critics (num_critics, ..., num_quantiles).

    `nn.vmap` stacks every critic's parameters (and Batch Renormalization statistics) on a leading
    axis, so XLA runs the ensemble as batched matmuls instead of `num_critics` separate ones; each
    critic draws its own dropout masks.
    """

    num_critics: int = 2
    hidden_dims: Sequence[int] = (256, 256)
    activation: str = "relu"
    layer_norm: bool = False
    dropout_rate: float = 0.0
    num_quantiles: int | None = None
    batch_renorm: bool = False
    renorm_warmup: int = 100_000

    @nn.compact
    def __call__(self, obs: jnp.ndarray, action: jnp.ndarray) -> jnp.ndarray:
        ensemble = nn.vmap(
            Critic,
            variable_axes={"params": 0, "batch_stats": 0},
            split_rngs={"params": True, "dropout": True},
            in_axes=None,
            out_axes=0,
            axis_size=self.num_critics,
        )
        return ensemble(
            self.hidden_dims,
            self.activation,
            self.layer_norm,
            self.dropout_rate,
            self.num_quantiles,
            self.batch_renorm,
            self.renorm_warmup,
        )(obs, action)
