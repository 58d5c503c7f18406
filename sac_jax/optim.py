"""Optimizers: Adam with a learning-rate schedule and optional global-norm gradient clipping.

The base learning rate is a leaf of the optimizer state (`opt_state.hyperparams["learning_rate"]`,
via `optax.inject_hyperparams`), not a constant of the compiled update: runs that differ only in
their learning rates share one compiled update and can be vmapped together (sweeps,
docs/scaling.md). Schedules are multipliers of the optimizer's own update count (held in its
state), so the rate changes without retracing and is checkpointed with the optimizer state.
"""

import functools

import jax
import jax.numpy as jnp
import optax

SCHEDULES = ("constant", "linear", "cosine")


def make_schedule(name: str, lr: float, decay_steps: int) -> optax.Schedule:
    """constant: lr; linear: lr -> 0 over decay_steps; cosine: lr -> 0 along half a cosine."""
    if name == "constant":
        return optax.constant_schedule(lr)
    if name == "linear":
        return optax.linear_schedule(lr, 0.0, decay_steps)
    if name == "cosine":
        return optax.cosine_decay_schedule(lr, decay_steps)
    raise ValueError(f"config.lr_schedule={name!r} is invalid: must be one of {SCHEDULES}")


@functools.cache
def make_optimizer(
    lr: float,
    schedule: str,
    decay_steps: int,
    max_grad_norm: float | None,
    weight_decay: float = 0.0,
    b1: float = 0.9,
) -> optax.GradientTransformation:
    """Adam at `lr` times the schedule's multiplier (1 -> 0 for linear and cosine), first-moment
    decay `b1` (CrossQ's 0.5 averages gradients over fewer steps than the usual 0.9); with
    `weight_decay` > 0, AdamW (Loshchilov and Hutter 2019): each step also subtracts
    rate * weight_decay * params, decoupled from the gradient's moments.

    Cached: equal arguments give the same object, so train states built by separate
    `create_state` calls have equal (static) optimizers and share compiled updates.
    """
    relative = make_schedule(schedule, 1.0, max(decay_steps, 1))

    def adam(learning_rate):
        rate = lambda count: learning_rate * relative(count)  # noqa: E731
        if weight_decay:
            tx = optax.adamw(rate, b1=b1, weight_decay=weight_decay)
        else:
            tx = optax.adam(rate, b1=b1)
        if max_grad_norm is None:
            return tx
        return optax.chain(optax.clip_by_global_norm(max_grad_norm), tx)

    return optax.inject_hyperparams(adam)(learning_rate=lr)


def learning_rate(opt_state) -> jax.Array:
    """The base learning rate held in a `make_optimizer` state."""
    return opt_state.hyperparams["learning_rate"]


def with_learning_rate(opt_state, lr):
    """A `make_optimizer` state with its base learning rate set to `lr` (may be a traced value)."""
    hyperparams = {**opt_state.hyperparams, "learning_rate": jnp.asarray(lr, jnp.float32)}
    return opt_state._replace(hyperparams=hyperparams)
