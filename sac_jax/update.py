"""`update_step`: one SAC gradient step composed from the pure losses, and action selection.

Update order (one order, tested): critic (backup from the pre-update actor and alpha), then actor
against the updated critic, then temperature from the entropy the actor step measured, then the
Polyak target update from the updated critic.
"""

import jax

from sac_jax import losses
from sac_jax.networks import deterministic_action
from sac_jax.state import SACState
from sac_jax.types import Batch


def update_critic(state: SACState, batch: Batch, key: jax.Array):
    target = losses.critic_target(state, batch, key)
    grads, info = jax.grad(losses.critic_loss, has_aux=True)(state.critic.params, state, batch, target)
    return state.replace(critic=state.critic.apply_gradients(grads=grads)), info


def update_actor(state: SACState, batch: Batch, key: jax.Array):
    grads, info = jax.grad(losses.actor_loss, has_aux=True)(state.actor.params, state, batch, key)
    return state.replace(actor=state.actor.apply_gradients(grads=grads)), info


def update_temperature(state: SACState, entropy: jax.Array):
    if not state.hparams.learn_alpha:
        return state, {"alpha": state.alpha}
    grads, info = jax.grad(losses.temperature_loss, has_aux=True)(
        state.temperature.params, entropy, state.hparams.target_entropy
    )
    state = state.replace(temperature=state.temperature.apply_gradients(grads=grads))
    return state, {**info, "alpha": state.alpha}


def update_target(state: SACState) -> SACState:
    target = losses.polyak_update(state.critic.params, state.target_critic_params, state.hparams.tau)
    return state.replace(target_critic_params=target)


def _update_step(state: SACState, batch: Batch):
    key, critic_key, actor_key = jax.random.split(state.key, 3)
    state, critic_info = update_critic(state, batch, critic_key)
    state, actor_info = update_actor(state, batch, actor_key)
    state, temperature_info = update_temperature(state, actor_info["entropy"])
    state = update_target(state)
    state = state.replace(key=key, step=state.step + 1)
    return state, {**critic_info, **actor_info, **temperature_info}


def _update_steps(state: SACState, batches: Batch):
    state, metrics = jax.lax.scan(_update_step, state, batches)
    return state, jax.tree.map(lambda m: m[-1], metrics)


update_step = jax.jit(_update_step)
update_step.__doc__ = """One SAC update: `(state, batch) -> (new_state, metrics)`. Pure and jitted.

`batch` is a `sac_jax.Batch` with leading axis B. The input state is not donated and stays valid
(use `update_step_donated` in a loop that drops the old state). `metrics` is a dict of scalar
device arrays: critic_loss, q_mean, target_mean, actor_loss, entropy, alpha (and alpha_loss when
alpha is learned). Works under `jax.vmap` over a leading seed axis of state and batch.
"""

update_step_donated = jax.jit(_update_step, donate_argnums=0)
update_step_donated.__doc__ = """`update_step` that donates the input state's buffers to the output.

The passed state must not be used afterwards (its arrays are deleted). Saves a copy of every
parameter and optimizer moment per call.
"""

update_steps = jax.jit(_update_steps, donate_argnums=0)
update_steps.__doc__ = """K fused SAC updates in one dispatch: `lax.scan` of `update_step` over
`batches` with leading axis K (shape (K, B, ...)). Donates the input state. Equal to K calls of
`update_step` on the K batches in order; returns the metrics of the last one.
"""


@jax.jit
def select_action(actor, obs: jax.Array, key: jax.Array | None = None) -> jax.Array:
    """Action in [-1, 1] for `obs` (one observation or a batch) from the actor `TrainState`.

    With a PRNG key: a sample a ~ pi(.|s) (exploration). With key=None: the deterministic
    evaluation action tanh(mean). Only the actor travels to the device call, not the whole state.
    """
    pi = actor.apply_fn({"params": actor.params}, obs)
    if key is None:
        return deterministic_action(pi)
    return pi.sample(seed=key)
