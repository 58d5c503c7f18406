"""`update_step`: one SAC update composed from the pure losses, and its fused form.

Update order (one order, tested): critic (backup from the pre-update actor and alpha), then, every
`actor_update_period`-th update, the actor against the updated critic and the temperature from the
entropy the actor step measured, then the target update from the updated critic. `state.step`
counts these updates (= critic steps). With target_update="none" the critic step is CrossQ's joint
pass (`update_critic_jointly`) and there is no target update.

A variant is a different composition: `sac_step` takes the losses as arguments, and
`make_update_steps` turns any `(state, batch) -> (state, metrics)` step into the fused, jitted form
that `sac_jax.loop.train(..., update_fn=...)` calls.
"""

import functools

import jax
import jax.numpy as jnp

from sac_jax import losses
from sac_jax.normalization import normalize
from sac_jax.state import SACState
from sac_jax.types import Batch


def normalize_batch(state: SACState, batch: Batch) -> Batch:
    """The batch with obs and next_obs normalized by `state.obs_stats` (if hparams.normalize_obs)."""
    if not state.hparams.normalize_obs:
        return batch
    stats = state.obs_stats
    return batch._replace(
        obs=normalize(stats, batch.obs), next_obs=normalize(stats, batch.next_obs)
    )


def update_critic(
    state: SACState,
    batch: Batch,
    key: jax.Array,
    target_fn=losses.critic_target,
    loss_fn=losses.critic_loss,
):
    """One critic step on J_Q. With `critic_dropout` > 0, `loss_fn` also gets `key=`, split off
    `key`, for the online critics' dropout masks."""
    key, dropout_key = losses.split_dropout_key(state, key)
    if dropout_key is not None:
        loss_fn = functools.partial(loss_fn, key=dropout_key)
    target = target_fn(state, batch, key)
    grads, info = jax.grad(loss_fn, has_aux=True)(state.critic.params, state, batch, target)
    critic, info = _apply_gradients(state.critic, grads, info)
    return state.replace(critic=critic), info


def update_critic_jointly(
    state: SACState, batch: Batch, key: jax.Array, loss_fn=losses.joint_critic_loss
):
    """One critic step on CrossQ's J_Q: target and Q(s, a) from one training-mode pass."""
    grads, info = jax.grad(loss_fn, has_aux=True)(state.critic.params, state, batch, key)
    critic, info = _apply_gradients(state.critic, grads, info)
    return state.replace(critic=critic), info


def update_actor(state: SACState, batch: Batch, key: jax.Array, loss_fn=losses.actor_loss):
    grads, info = jax.grad(loss_fn, has_aux=True)(state.actor.params, state, batch, key)
    actor, info = _apply_gradients(state.actor, grads, info)
    return state.replace(actor=actor), info


def _apply_gradients(train_state, grads, info: dict):
    """The optimizer step; with batch_renorm also the running statistics of the loss's training
    pass, which `info` carries under "batch_stats" (state, not a metric: removed from info)."""
    if "batch_stats" not in info:
        return train_state.apply_gradients(grads=grads), info
    info = dict(info)
    batch_stats = info.pop("batch_stats")
    return train_state.apply_gradients(grads=grads, batch_stats=batch_stats), info


def update_temperature(state: SACState, entropy: jax.Array):
    if not state.hparams.learn_alpha:
        return state, {"alpha": state.alpha}
    grads, info = jax.grad(losses.temperature_loss, has_aux=True)(
        state.temperature.params, entropy, state.scalars.target_entropy
    )
    state = state.replace(temperature=state.temperature.apply_gradients(grads=grads))
    return state, {**info, "alpha": state.alpha}


def update_target(state: SACState) -> SACState:
    """Soft (Polyak, every update), hard (copy when the update count hits the period), or none."""
    hp = state.hparams
    if hp.target_update == "none":
        return state
    if hp.target_update == "soft":
        target = losses.polyak_update(
            state.critic.params, state.target_critic_params, state.scalars.tau
        )
    else:
        target = losses.periodic_copy(
            state.critic.params, state.target_critic_params, state.step + 1, hp.target_update_period
        )
    return state.replace(target_critic_params=target)


def _policy_step(state: SACState, batch: Batch, key: jax.Array, actor_loss_fn):
    state, actor_info = update_actor(state, batch, key, actor_loss_fn)
    state, temperature_info = update_temperature(state, actor_info["entropy"])
    return state, {**actor_info, **temperature_info}


def sac_step(
    state: SACState,
    batch: Batch,
    critic_target_fn=losses.critic_target,
    critic_loss_fn=losses.critic_loss,
    actor_loss_fn=losses.actor_loss,
    joint_critic_loss_fn=losses.joint_critic_loss,
):
    """One update (unjitted), composed from the given pure pieces; defaults are SAC.

    With actor_update_period P > 1 the actor and temperature step on updates P, 2P, ... (counting
    from 1); on the others the metrics of that step (actor_loss, entropy, alpha_loss) are NaN, as
    nothing computed them, and alpha is the unchanged temperature. With target_update="none" the
    critic step is `update_critic_jointly` with `joint_critic_loss_fn` (the target and critic loss
    pieces are one there).
    """
    batch = normalize_batch(state, batch)
    key, critic_key, actor_key = jax.random.split(state.key, 3)
    if state.hparams.target_update == "none":
        state, critic_info = update_critic_jointly(state, batch, critic_key, joint_critic_loss_fn)
    else:
        state, critic_info = update_critic(
            state, batch, critic_key, critic_target_fn, critic_loss_fn
        )
    policy_step = functools.partial(_policy_step, actor_loss_fn=actor_loss_fn)
    period = state.hparams.actor_update_period
    if period == 1:
        state, policy_info = policy_step(state, batch, actor_key)
    else:
        shapes = jax.eval_shape(policy_step, state, batch, actor_key)[1]
        skip_info = jax.tree.map(lambda s: jnp.full(s.shape, jnp.nan, s.dtype), shapes)
        state, policy_info = jax.lax.cond(
            (state.step + 1) % period == 0,
            policy_step,
            lambda s, *_: (s, {**skip_info, "alpha": s.alpha}),
            state,
            batch,
            actor_key,
        )
    state = update_target(state)
    state = state.replace(key=key, step=state.step + 1)
    return state, {**critic_info, **policy_info}


def make_update_steps(step_fn=sac_step):
    """Jitted K fused updates: `lax.scan` of `step_fn` over batches shaped (K, B, ...).

    Donates the input state. Equal to K calls of `step_fn` on the K batches in order; returns
    the metrics of the last one.
    """

    def steps(state: SACState, batches: Batch):
        state, metrics = jax.lax.scan(step_fn, state, batches)
        return state, jax.tree.map(lambda m: m[-1], metrics)

    return jax.jit(steps, donate_argnums=0)


update_step = jax.jit(sac_step)
update_step.__doc__ = """One SAC update: `(state, batch) -> (new_state, metrics)`. Pure and jitted.

`batch` is a `sac_jax.Batch` with leading axis B. The input state is not donated and stays valid
(`update_steps` donates it). `metrics` is a dict of scalar
device arrays: critic_loss, q_mean, target_mean, actor_loss, entropy, alpha (and alpha_loss when
alpha is learned); actor_loss, entropy and alpha_loss are NaN on an update that skips the actor
(actor_update_period > 1). Works under `jax.vmap` over a leading seed axis of state and batch.
"""

update_steps = make_update_steps(sac_step)
update_steps.__doc__ = """K fused SAC updates in one dispatch (the loop's K = num_critic_updates):
`lax.scan` of `update_step` over `batches` shaped (K, B, ...). Donates the input state. Equal to
K calls of `update_step` on the K batches in order; returns the metrics of the last one.
"""
