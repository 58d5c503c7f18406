"""SAC's losses and target update as pure functions (equation numbers from Haarnoja et al. 2018,
"Soft Actor-Critic Algorithms and Applications", arXiv:1812.05905).

Each loss takes the parameters it differentiates as its first argument and returns (loss, info),
ready for `jax.grad(..., has_aux=True)`. Everything else it needs comes from the state.
"""

import jax
import jax.numpy as jnp

from sac_jax.state import SACState
from sac_jax.types import Batch


def critic_target(state: SACState, batch: Batch, key: jax.Array) -> jax.Array:
    """Soft Bellman backup (eq. 2-3), with no gradient:

    y = r + gamma * (1 - terminated) * (min_i Q_targ_i(s', a') - alpha * log pi(a'|s')), a' ~ pi(.|s').
    """
    pi = state.actor.apply_fn({"params": state.actor.params}, batch.next_obs)
    next_action, next_log_prob = pi.sample_and_log_prob(seed=key)
    next_q = state.critic.apply_fn({"params": state.target_critic_params}, batch.next_obs, next_action)
    next_v = next_q.min(axis=0) - state.alpha * next_log_prob
    y = batch.reward + state.hparams.gamma * (1.0 - batch.terminated) * next_v
    return jax.lax.stop_gradient(y)


def critic_loss(critic_params, state: SACState, batch: Batch, target: jax.Array):
    """J_Q (eq. 5) summed over the ensemble: sum_i E[0.5 * (Q_i(s, a) - y)^2]."""
    q = state.critic.apply_fn({"params": critic_params}, batch.obs, batch.action)
    loss = 0.5 * jnp.square(q - target).mean(axis=-1).sum()
    return loss, {"critic_loss": loss, "q_mean": q.mean(), "target_mean": target.mean()}


def actor_loss(actor_params, state: SACState, batch: Batch, key: jax.Array):
    """J_pi (eq. 7), reparametrized: E[alpha * log pi(a|s) - min_i Q_i(s, a)], a = tanh(mu + sigma * eps).

    Gradients reach the actor through a only; critic params and alpha are constants here.
    """
    pi = state.actor.apply_fn({"params": actor_params}, batch.obs)
    action, log_prob = pi.sample_and_log_prob(seed=key)
    q = state.critic.apply_fn({"params": state.critic.params}, batch.obs, action).min(axis=0)
    alpha = jax.lax.stop_gradient(state.alpha)
    loss = (alpha * log_prob - q).mean()
    return loss, {"actor_loss": loss, "entropy": -log_prob.mean()}


def temperature_loss(temperature_params, entropy: jax.Array, target_entropy: float):
    """J(alpha) (eq. 18) in log-alpha: log_alpha * (H - target_entropy), H = -E[log pi].

    `entropy` is a constant (stop_gradient), so this loss never sends gradients to the actor.
    Its gradient lowers alpha when the policy is more random than the target, and raises it when less.
    """
    log_alpha = temperature_params["log_alpha"]
    loss = log_alpha * (jax.lax.stop_gradient(entropy) - target_entropy)
    return loss, {"alpha_loss": loss}


def polyak_update(params, target_params, tau: float):
    """target <- tau * params + (1 - tau) * target, leaf by leaf."""
    return jax.tree.map(lambda p, t: tau * p + (1.0 - tau) * t, params, target_params)
