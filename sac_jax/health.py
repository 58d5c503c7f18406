"""A run that goes bad says so: non-finite values stop it before they reach a checkpoint, and Q
estimates beyond any return the rewards allow get a warning.

The update carries one boolean per trial on the device, ANDed with "the critic's loss and Q are
finite" inside the same jitted call (`guard`), so checking costs no host sync per step: the loop
reads the flags only where it syncs anyway (before evaluating, logging or saving), and checks
every leaf of the state before a save.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np

Q_RANGE_MARGIN = 2.0  # |Q| may exceed the largest possible return by this factor before a warning


class NonFiniteError(RuntimeError):
    """A NaN or inf in the env's output, a loss, Q, or the parameters: the run cannot continue."""


class QRangeWarning(UserWarning):
    """The critics estimate returns that the rewards seen so far cannot produce."""


def all_finite(tree) -> jax.Array:
    """True iff every float leaf of `tree` is finite, as one device scalar."""
    leaves = [x for x in jax.tree.leaves(tree) if jnp.issubdtype(jnp.result_type(x), jnp.floating)]
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in leaves], bool))  # [] is True


def guard(update_fn):
    """`update_fn(state, batches)` that also carries the trial's `healthy` flag: it stays True
    while the critic's loss and mean Q are finite. A NaN or inf anywhere in the parameters shows
    up there within an update or two (through Q, the target's next action, or the loss), at the
    cost of two scalar checks; the loop checks the whole state before it saves. (The actor's
    metrics are NaN by design on updates that skip the actor step, so they are not used.)"""

    def guarded(state, batches, healthy):
        state, metrics = update_fn(state, batches)
        return state, metrics, healthy & all_finite([metrics["critic_loss"], metrics["q_mean"]])

    return guarded


def non_finite_parts(state) -> list[str]:
    """Which of the state's parts (actor, critic, target critic, temperature) hold a NaN or inf."""
    parts = {
        "actor": state.actor,
        "critic": state.critic,
        "target critic": state.target_critic_params,
        "temperature": state.temperature,
    }
    return [name for name, tree in parts.items() if not bool(all_finite(tree))]


class EnvAndQChecks:
    """Host-side checks of one run's trials (`names`): the env's output must be finite, and each
    critic's mean Q must stay within the returns its rewards allow,
    (reward_scale * max|r| + alpha * action_dim) / (1 - gamma): alpha * action_dim is the size
    of the entropy bonus per step of a policy at SAC's target entropy (-action_dim), above the
    largest entropy a tanh policy can have (action_dim * log 2). Beyond `Q_RANGE_MARGIN` times
    that, a warning, once: the critic is diverging."""

    def __init__(self, names: list[str], gamma, reward_scale, action_dim: int, stored_rewards):
        """`stored_rewards`: each trial's replay rewards (trial, row), the rewards a resumed run
        has seen before its restart (zeros for a fresh run)."""
        self.names, self.action_dim = names, action_dim
        self.gamma, self.reward_scale = np.asarray(gamma), np.asarray(reward_scale)
        self.max_abs_reward = np.abs(np.asarray(stored_rewards, np.float64)).max(axis=1)
        self.warned = False

    def env_step(self, step: int, rewards, next_obs: np.ndarray, following: np.ndarray) -> None:
        """Stop at once, before anything is stored or saved, when an env returns a non-finite
        reward or observation; `following`: the observations after any reset."""
        with np.errstate(over="ignore"):  # checked as stored: beyond float32's range is inf
            stored_rewards, next_obs = (np.asarray(x, np.float32) for x in (rewards, next_obs))
        self.require_finite(step, "the env's reward", stored_rewards[:, None])
        self.require_finite(step, "the env's observation", next_obs)
        self.require_finite(step, "the env's observation after its reset", following)
        np.maximum(
            self.max_abs_reward, np.abs(np.asarray(rewards, np.float64)), out=self.max_abs_reward
        )

    def require_finite(self, step: int, what: str, values: np.ndarray, then: str = "") -> None:
        """Stop with a NonFiniteError naming each trial whose `values` (trial, entries) hold a NaN
        or inf, with its first bad entries (and `then`, what follows): SAC cannot learn from
        them."""
        bad = ~np.isfinite(values)
        if not bad.any():
            return
        found = []
        for i in np.flatnonzero(bad.any(axis=-1)):
            entries = np.flatnonzero(bad[i])[:4]
            shown = ", ".join(f"[{j}] = {values[i][j]}" for j in entries)
            found.append(
                f"{self.names[i]}: {shown}"
                if values.shape[-1] > 1
                else f"{self.names[i]}: {values[i][0]}"
            )
        then = f"; {then}" if then else ""
        raise NonFiniteError(f"{what} at step {step} is not finite ({'; '.join(found)}){then}")

    def q_range(self, step: int, metrics: dict) -> None:
        """`metrics`: host arrays with a leading trial axis, as the loop logs them."""
        if self.warned or "q_mean" not in metrics:
            return
        bonus = np.asarray(metrics["alpha"]) * self.action_dim
        limit = (self.reward_scale * self.max_abs_reward + bonus) / (1.0 - self.gamma)
        q = np.asarray(metrics["q_mean"])
        outside = np.flatnonzero(np.abs(q) > Q_RANGE_MARGIN * limit)
        if outside.size:
            i, self.warned = outside[0], True
            message = (
                f"step {step}, {self.names[i]}: mean Q = {q[i]:.4g}, but no return can exceed "
                f"{limit[i]:.4g} in size (largest |reward| {self.max_abs_reward[i]:.4g}, gamma "
                f"{self.gamma[i]:.4g}): the critic is diverging. Lower the learning rates, or "
                "clip gradients (config.max_grad_norm)."
            )
            warnings.warn(QRangeWarning(message), stacklevel=2)
