"""The SAC train state: one immutable pytree, and its constructor."""

import dataclasses
import functools

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from flax.training.train_state import TrainState

from sac_jax.networks import CriticEnsemble, TanhGaussianActor


@dataclasses.dataclass(frozen=True)
class SACHParams:
    """Hyperparameters the update closes over. Static (hashable): changing one recompiles."""

    gamma: float = 0.99
    tau: float = 0.005
    target_entropy: float = -1.0
    learn_alpha: bool = True


@flax.struct.dataclass
class SACState:
    """Everything `update_step` reads and writes.

    actor / critic / temperature are `TrainState`s (params, optimizer state, apply_fn, step);
    `temperature.params` is `{"log_alpha": scalar}`. `target_critic_params` has the critic's
    structure. `key` is consumed by each update; `step` counts updates. `hparams` is a static
    field: it is not a leaf, so jit, vmap and Orbax see only arrays.
    """

    actor: TrainState
    critic: TrainState
    target_critic_params: flax.core.FrozenDict
    temperature: TrainState
    key: jax.Array
    step: jax.Array
    hparams: SACHParams = flax.struct.field(pytree_node=False)

    @property
    def alpha(self) -> jax.Array:
        return jnp.exp(self.temperature.params["log_alpha"])


def create_state(
    config: ml_collections.ConfigDict, obs_dim: int, action_dim: int, key: jax.Array | None = None
) -> SACState:
    """Build a fresh SACState from a config (see `sac_jax.config.default_config`).

    `key` defaults to `PRNGKey(config.seed)`. Traceable: `jax.vmap(lambda k: create_state(c, o, a,
    k))(keys)` builds a stack of independent states for multi-seed training.

    Jitted as one program: run eagerly, Flax's initializers compile dozens of small XLA programs
    one op at a time, which was most of a cold start (22 s of it on the loaded benchmark machine).
    """
    if key is None:
        key = jax.random.PRNGKey(config.seed)
    return jax.jit(functools.partial(_build_state, config, obs_dim, action_dim))(key)


def _build_state(config: ml_collections.ConfigDict, obs_dim: int, action_dim: int, key: jax.Array):
    key, actor_key, critic_key = jax.random.split(key, 3)
    obs = jnp.zeros((1, obs_dim), jnp.float32)
    action = jnp.zeros((1, action_dim), jnp.float32)

    actor_def = TanhGaussianActor(
        action_dim=action_dim,
        hidden_dims=tuple(config.hidden_dims),
        activation=config.activation,
        log_std_min=config.log_std_min,
        log_std_max=config.log_std_max,
    )
    critic_def = CriticEnsemble(
        num_critics=config.num_critics,
        hidden_dims=tuple(config.hidden_dims),
        activation=config.activation,
    )
    critic_params = critic_def.init(critic_key, obs, action)["params"]
    target_entropy = config.target_entropy
    if target_entropy is None:
        target_entropy = -float(action_dim)

    return SACState(
        actor=TrainState.create(
            apply_fn=actor_def.apply,
            params=actor_def.init(actor_key, obs)["params"],
            tx=optax.adam(config.actor_lr),
        ),
        critic=TrainState.create(
            apply_fn=critic_def.apply, params=critic_params, tx=optax.adam(config.critic_lr)
        ),
        target_critic_params=jax.tree.map(jnp.copy, critic_params),  # own buffers: donatable
        temperature=TrainState.create(
            apply_fn=None,
            params={"log_alpha": jnp.log(jnp.asarray(config.init_alpha, jnp.float32))},
            tx=optax.adam(config.alpha_lr),
        ),
        key=key,
        step=jnp.zeros((), jnp.int32),
        hparams=SACHParams(
            gamma=float(config.gamma),
            tau=float(config.tau),
            target_entropy=float(target_entropy),
            learn_alpha=bool(config.learn_alpha),
        ),
    )
