"""SAC's losses and target update as pure functions (equation numbers from Haarnoja et al. 2018,
"Soft Actor-Critic Algorithms and Applications", arXiv:1812.05905).

Each loss takes the parameters it differentiates as its first argument and returns (loss, info),
ready for `jax.grad(..., has_aux=True)`. Everything else it needs comes from the state.

Two sample-efficient variants live in the same pieces. backup=tqc (Kuznetsov et al. 2020,
"Controlling Overestimation Bias with Truncated Mixture of Continuous Distributional Quantile
Critics"): quantile critics, a truncated-mixture backup and the quantile Huber loss.
critic_dropout > 0 (Hiraoka et al. 2022, "Dropout Q-Functions for Doubly Efficient Reinforcement
Learning", DroQ): the critics run with dropout in every loss, masks drawn from the update's key.
target_update="none" with batch_renorm (Bhatt et al. 2024, "CrossQ: Batch Normalization in Deep
Reinforcement Learning for Greater Sample Efficiency and Simplicity"): `joint_critic_loss`.
"""

import jax
import jax.numpy as jnp
import optax

from sac_jax.networks import deterministic_action
from sac_jax.state import SACState, training_pass, variables
from sac_jax.types import Batch


def backup_value(next_q: jax.Array, backup: str, key: jax.Array, redq_subset: int = 2) -> jax.Array:
    """Reduce target-critic values next_q (N, B) to the value each critic is regressed on.

    min: min_i Q_i, clipped double-Q (Fujimoto et al. 2018), SAC's default (paper, sec. 5);
    mean: the ensemble mean; doubleq: critic i bootstraps from the other critic's target
    (van Hasselt 2010), so the result is (2, B), one row per critic; redq: min over a random
    subset of `redq_subset` critics, drawn afresh each update and shared across the batch
    (Chen et al. 2021, REDQ). All but doubleq return (B,), broadcast over the ensemble.
    `key` is only read by redq.
    """
    if backup == "min":
        return next_q.min(axis=0)
    if backup == "mean":
        return next_q.mean(axis=0)
    if backup == "doubleq":
        return next_q[::-1]
    if backup == "redq":
        subset = jax.random.choice(key, next_q.shape[0], (redq_subset,), replace=False)
        return next_q[subset].min(axis=0)
    raise ValueError(f"backup={backup!r} is not one of min, mean, doubleq, redq")


def truncated_mixture(next_z: jax.Array, top_quantiles_to_drop: int) -> jax.Array:
    """TQC's target atoms: the N critics' M quantiles next_z (N, B, M) pooled per state into one
    mixture of NM atoms, sorted, and the d * N largest dropped (d = `top_quantiles_to_drop` per
    critic). Returns the k * N smallest, k = M - d, ascending on a leading axis: (kN, B).

    Dropping the largest atoms of the mixture controls overestimation at the granularity of one
    atom, where a min over critics can only drop whole critics.
    """
    n = next_z.shape[0]
    pooled = jnp.moveaxis(next_z, 0, -2).reshape(*next_z.shape[1:-1], -1)  # (B, NM)
    kept = jnp.sort(pooled, axis=-1)[..., : pooled.shape[-1] - top_quantiles_to_drop * n]
    return jnp.moveaxis(kept, -1, 0)


def split_dropout_key(state: SACState, key: jax.Array):
    """(key, dropout key): a key for the critics' dropout masks split off `key` when
    `hparams.critic_dropout` > 0; otherwise (key, None), and the key stream is plain SAC's."""
    if not state.hparams.critic_dropout:
        return key, None
    key, dropout_key = jax.random.split(key)
    return key, dropout_key


def critic_values(state: SACState, params, obs: jax.Array, action: jax.Array, dropout_key=None):
    """The critic ensemble with `params` at (s, a): (N, ...), or (N, ..., M) quantiles for
    backup=tqc. With a `dropout_key` the critics run with dropout (DroQ), without one they don't.
    With batch_renorm they run in evaluation mode (`joint_critic_loss` has the training pass)."""
    v = variables(state.critic, params)
    if dropout_key is None:
        return state.critic.apply_fn(v, obs, action)
    return state.critic.apply_fn(v, obs, action, rngs={"dropout": dropout_key})


def _next_sample(state: SACState, batch: Batch, key: jax.Array):
    """(a' ~ pi(.|s'), log pi(a'|s'), the key of backup=redq's subset or None); the actor in
    evaluation mode with batch_renorm."""
    subset_key = None
    if state.hparams.backup == "redq":
        key, subset_key = jax.random.split(key)
    pi = state.actor.apply_fn(variables(state.actor), batch.next_obs)
    return *pi.sample_and_log_prob(seed=key), subset_key


def soft_backup(state: SACState, batch: Batch, next_q, next_log_prob, subset_key) -> jax.Array:
    """`critic_target`'s y from the next-state values next_q (N, B) or quantiles (N, B, M) and
    log pi(a'|s'), under stop_gradient."""
    hp = state.hparams
    if hp.backup == "tqc":
        next_v = truncated_mixture(next_q, hp.top_quantiles_to_drop)
    else:
        next_v = backup_value(next_q, hp.backup, subset_key, hp.redq_subset)
    if hp.backup_entropy:
        next_v = next_v - state.alpha * next_log_prob
    c = state.scalars
    discount = getattr(batch, "discount", c.gamma)  # an NStepBatch carries gamma^m
    y = c.reward_scale * batch.reward + discount * (1.0 - batch.terminated) * next_v
    return jax.lax.stop_gradient(y)


def critic_target(state: SACState, batch: Batch, key: jax.Array) -> jax.Array:
    """Soft Bellman backup (eq. 2-3), with no gradient, a' ~ pi(.|s'):

    y = reward_scale * r + gamma * (1 - terminated) * (B[Q_targ(s', a')] - alpha * log pi(a'|s')),
    B the ensemble reduction `hparams.backup` (see `backup_value`); the entropy term is dropped
    when `hparams.backup_entropy` is False. Shape (B,), or (N, B) for backup=doubleq. With n-step
    transitions r is the discounted sum of m rewards and gamma^m replaces gamma.

    backup=tqc: every atom z_(i) of `truncated_mixture` gives a target, y_i = reward_scale * r +
    gamma * (1 - terminated) * (z_(i) - alpha * log pi(a'|s')), shape (kN, B). With
    `critic_dropout` the target critics run with dropout too, as in DroQ.
    """
    key, dropout_key = split_dropout_key(state, key)
    next_action, next_log_prob, subset_key = _next_sample(state, batch, key)
    next_q = critic_values(
        state, state.target_critic_params, batch.next_obs, next_action, dropout_key
    )
    return soft_backup(state, batch, next_q, next_log_prob, subset_key)


def quantile_huber_loss(z: jax.Array, atoms: jax.Array) -> jax.Array:
    """TQC's critic loss summed over the critics: critic n's quantiles z_n (B, M) at
    tau_m = (2m - 1) / (2M), m = 1..M, regressed on every target atom y_i of `atoms` (kN, B),

    L_n = E_B[1 / (kNM) sum_m sum_i rho_tau_m(y_i - z_n^m)], rho_tau(u) = |tau - 1{u < 0}| Huber(u),

    Huber with kappa = 1 (quantile regression, Dabney et al. 2018). z is (N, B, M). Summed over
    critics as J_Q is, so each critic's gradient is that of its own L_n.
    """
    m = z.shape[-1]
    tau = (jnp.arange(m) + 0.5) / m
    u = atoms.T[None, :, None, :] - z[..., None]  # (N, B, M, kN)
    rho = jnp.abs(tau[:, None] - (u < 0)) * optax.losses.huber_loss(u)
    return rho.mean(axis=(1, 2, 3)).sum()


def critic_loss(critic_params, state: SACState, batch: Batch, target: jax.Array, key=None):
    """J_Q (eq. 5) summed over the ensemble: sum_i E[0.5 * (Q_i(s, a) - y_i)^2]; for backup=tqc
    the `quantile_huber_loss` against all target atoms. `key` draws the critics' dropout masks
    (`update_critic` passes it only when `hparams.critic_dropout` > 0)."""
    q = critic_values(state, critic_params, batch.obs, batch.action, key)
    return _regression(state, q, target)


def _regression(state: SACState, q: jax.Array, target: jax.Array):
    if state.hparams.backup == "tqc":
        loss = quantile_huber_loss(q, target)
    else:
        loss = 0.5 * jnp.square(q - target).mean(axis=-1).sum()
    return loss, {"critic_loss": loss, "q_mean": q.mean(), "target_mean": target.mean()}


def joint_critic_loss(critic_params, state: SACState, batch: Batch, key: jax.Array):
    """CrossQ's J_Q (target_update="none"): the critics run once, in training mode, on the joint
    batch [(s, a); (s', a')], a' ~ pi(.|s') from the actor in evaluation mode. The first half is
    Q(s, a); the backup (`soft_backup`, as `critic_target` forms it) bootstraps from the second
    half under stop_gradient, so there is no target critic. With batch_renorm both halves are
    normalized with the statistics of the joint batch, so Q(s', a') is computed as Q(s, a) is,
    and info["batch_stats"] holds the running statistics updated from it. The regression is
    `critic_loss`'s; the key is split as `critic_target` splits it."""
    key, dropout_key = split_dropout_key(state, key)
    next_action, next_log_prob, subset_key = _next_sample(state, batch, key)
    obs = jnp.concatenate([batch.obs, batch.next_obs])
    action = jnp.concatenate([batch.action, next_action])
    rngs = {} if dropout_key is None else {"dropout": dropout_key}
    q_joint, stats = training_pass(state.critic, critic_params, obs, action, rngs=rngs)
    q, next_q = jnp.split(q_joint, 2, axis=1)
    target = soft_backup(state, batch, next_q, next_log_prob, subset_key)
    loss, info = _regression(state, q, target)
    return loss, {**info, **stats}


def _sample_actions(pi, key: jax.Array, num_samples: int, reparametrize: bool):
    """S actions per state and their log-probabilities, (S, B, A) and (S, B) (S axis dropped if 1).

    Without reparametrization the pre-tanh sample u is a constant, and log pi(a) is evaluated from
    u (base log-density minus the tanh log-det), never from atanh(a), which is unstable near +-1.
    """
    shape = () if num_samples == 1 else (num_samples,)
    if reparametrize:
        return pi.sample_and_log_prob(seed=key, sample_shape=shape)
    u = jax.lax.stop_gradient(pi.distribution.sample(seed=key, sample_shape=shape))
    action, log_det = pi.bijector.forward_and_log_det(u)
    return action, pi.distribution.log_prob(u) - log_det


def _actor_q(q: jax.Array, backup: str) -> jax.Array:
    if backup == "min":
        return q.min(axis=0)
    if backup == "tqc":
        return q.mean(axis=(0, -1))
    return q.mean(axis=0)


def actor_loss(actor_params, state: SACState, batch: Batch, key: jax.Array):
    """J_pi (eq. 7): E_s E_{a~pi}[alpha * log pi(a|s) - Q(s, a)], Q = min over critics for
    backup=min (as in the paper), the ensemble mean otherwise (as REDQ's actor does); for
    backup=tqc the mean of all M quantiles of all N critics, untruncated (as TQC's actor does).
    With `critic_dropout` the critics run with dropout here too, as DroQ's do in every update.
    With batch_renorm the actor runs in training mode (its updated statistics in
    info["batch_stats"]) and the critics in evaluation mode, as in CrossQ.

    actor_gradient=reparametrize (eq. 11-13): a = tanh(mu + sigma * eps); gradients reach the
    actor through a and log pi(a|s).
    actor_gradient=reinforce: the score-function estimator grad = E[(f(a) - b(s)) grad log pi(a|s)],
    f = alpha * log pi - Q, via the surrogate mean(stop_gradient(f - b) * log pi). The baseline is
    b(s) = -Q(s, tanh(mean(s))), the critic at the deterministic action: it does not depend on
    the sampled a, so the estimator stays unbiased (E[grad log pi] = 0), it removes the
    state-to-state spread of Q (the largest part of the variance), it costs one critic call, and
    it is the same for any number of samples, so 1 vs 10 samples compares sample averaging alone.
    Without it, 1-sample REINFORCE diverged on HalfCheetah (docs/variants.md).
    The returned `actor_loss` metric is E[f] in both cases, not the surrogate.

    Critic params and alpha are constants here; alpha * log pi is dropped when
    `hparams.actor_entropy` is False.
    """
    hp = state.hparams
    key, dropout_key = split_dropout_key(state, key)
    pi, stats = training_pass(state.actor, actor_params, batch.obs)
    reparametrize = hp.actor_gradient == "reparametrize"
    action, log_prob = _sample_actions(pi, key, hp.num_actor_samples, reparametrize)
    obs = jnp.broadcast_to(batch.obs, action.shape[:-1] + batch.obs.shape[-1:])

    def q_of(obs, action):
        q = critic_values(state, state.critic.params, obs, action, dropout_key)
        return _actor_q(q, hp.backup)

    q = q_of(obs, action)
    alpha = jax.lax.stop_gradient(state.alpha) if hp.actor_entropy else 0.0
    objective = alpha * log_prob - q
    if reparametrize:
        loss = objective.mean()
    else:
        mode = deterministic_action(pi)
        baseline = -q_of(batch.obs, mode)
        loss = (jax.lax.stop_gradient(objective - baseline) * log_prob).mean()
    return loss, {"actor_loss": objective.mean(), "entropy": -log_prob.mean(), **stats}


def temperature_loss(temperature_params, entropy: jax.Array, target_entropy: jax.Array):
    """J(alpha) (eq. 18) in log-alpha: log_alpha * (H - target_entropy), H = -E[log pi].

    `entropy` is a constant (stop_gradient), so this loss never sends gradients to the actor.
    Its gradient lowers alpha when the policy is more random than the target, and raises it when less.
    """
    log_alpha = temperature_params["log_alpha"]
    loss = log_alpha * (jax.lax.stop_gradient(entropy) - target_entropy)
    return loss, {"alpha_loss": loss}


def polyak_update(params, target_params, tau: jax.Array):
    """Soft target update: target <- tau * params + (1 - tau) * target, leaf by leaf."""
    return jax.tree.map(lambda p, t: tau * p + (1.0 - tau) * t, params, target_params)


def periodic_copy(params, target_params, num_updates: jax.Array, period: int):
    """Hard target update: target <- params when num_updates (counting this one) % period == 0."""
    copy = num_updates % period == 0
    return jax.tree.map(lambda p, t: jnp.where(copy, p, t), params, target_params)
