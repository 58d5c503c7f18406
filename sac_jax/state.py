"""The SAC train state: one immutable pytree, and its constructor."""

import dataclasses
import functools

import flax
import jax
import jax.numpy as jnp
import ml_collections
from flax.training.train_state import TrainState

from sac_jax.networks import CriticEnsemble, TanhGaussianActor
from sac_jax.normalization import RunningStats
from sac_jax.optim import make_optimizer


@dataclasses.dataclass(frozen=True)
class SACHParams:
    """Hyperparameters the update closes over. Static (hashable): changing one recompiles.

    Field meanings are documented on the config fields of the same name (`sac_jax.config`).
    """

    gamma: float = 0.99
    tau: float = 0.005
    target_entropy: float = -1.0
    learn_alpha: bool = True
    backup: str = "min"
    redq_subset: int = 2
    actor_gradient: str = "reparametrize"
    num_actor_samples: int = 1
    target_update: str = "soft"
    target_update_period: int = 1
    backup_entropy: bool = True
    actor_entropy: bool = True
    actor_update_period: int = 1
    reward_scale: float = 1.0
    normalize_obs: bool = False


@flax.struct.dataclass
class SACState:
    """Everything `update_step` reads and writes.

    actor / critic / temperature are `TrainState`s (params, optimizer state, apply_fn, step);
    `temperature.params` is `{"log_alpha": scalar}`. `target_critic_params` has the critic's
    structure. `obs_stats` are the running observation statistics (used when
    `hparams.normalize_obs`). `key` is consumed by each update; `step` counts updates (critic
    steps). `hparams` is a static field: it is not a leaf, so jit, vmap and Orbax see only arrays.
    """

    actor: TrainState
    critic: TrainState
    target_critic_params: flax.core.FrozenDict
    temperature: TrainState
    obs_stats: RunningStats
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
        state_dependent_std=config.state_dependent_std,
    )
    critic_def = CriticEnsemble(
        num_critics=config.num_critics,
        hidden_dims=tuple(config.hidden_dims),
        activation=config.activation,
        layer_norm=config.critic_layer_norm,
    )
    critic_params = critic_def.init(critic_key, obs, action)["params"]
    target_entropy = config.target_entropy
    if target_entropy is None:
        target_entropy = -float(action_dim)
    # Each optimizer's schedule runs over its own number of updates in the run.
    critic_updates = max(config.total_steps - config.learning_starts, 1) * config.num_critic_updates
    actor_updates = critic_updates // config.actor_update_period

    def train_state(apply_fn, params, lr, num_updates):
        tx = make_optimizer(lr, config.lr_schedule, num_updates, config.max_grad_norm)
        # An array step (TrainState.create leaves a Python 0) keeps the first call's jit
        # signature equal to every later one's: one compile per run.
        return TrainState.create(apply_fn=apply_fn, params=params, tx=tx).replace(
            step=jnp.zeros((), jnp.int32)
        )

    return SACState(
        actor=train_state(
            actor_def.apply, actor_def.init(actor_key, obs)["params"], config.actor_lr, actor_updates
        ),
        critic=train_state(critic_def.apply, critic_params, config.critic_lr, critic_updates),
        target_critic_params=jax.tree.map(jnp.copy, critic_params),  # own buffers: donatable
        temperature=train_state(
            None,
            {"log_alpha": jnp.log(jnp.asarray(config.init_alpha, jnp.float32))},
            config.alpha_lr,
            actor_updates,
        ),
        obs_stats=RunningStats.create(obs_dim),
        key=key,
        step=jnp.zeros((), jnp.int32),
        hparams=SACHParams(
            gamma=float(config.gamma),
            tau=float(config.tau),
            target_entropy=float(target_entropy),
            learn_alpha=bool(config.learn_alpha),
            backup=config.backup,
            redq_subset=int(config.redq_subset),
            actor_gradient=config.actor_gradient,
            num_actor_samples=int(config.num_actor_samples),
            target_update=config.target_update,
            target_update_period=int(config.target_update_period),
            backup_entropy=bool(config.backup_entropy),
            actor_entropy=bool(config.actor_entropy),
            actor_update_period=int(config.actor_update_period),
            reward_scale=float(config.reward_scale),
            normalize_obs=bool(config.normalize_obs),
        ),
    )
