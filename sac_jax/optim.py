"""Optimizers: Adam with a learning-rate schedule and optional global-norm gradient clipping.

Schedules are optax schedules of the optimizer's own update count (held in its state), so the
learning rate changes without retracing and is checkpointed with the optimizer state.
"""

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


def make_optimizer(
    lr: float, schedule: str, decay_steps: int, max_grad_norm: float | None
) -> optax.GradientTransformation:
    adam = optax.adam(make_schedule(schedule, lr, max(decay_steps, 1)))
    if max_grad_norm is None:
        return adam
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), adam)
