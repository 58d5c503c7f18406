"""The SAC train state: one immutable pytree, and its constructor."""

import dataclasses
import functools

import flax
import jax
import jax.numpy as jnp
import ml_collections
from flax.training.train_state import TrainState

from sac_jax.config import SWEEPABLE, ConfigError, is_sweep
from sac_jax.networks import CriticEnsemble, TanhGaussianActor
from sac_jax.normalization import RunningStats
from sac_jax.optim import make_optimizer, with_learning_rate


@dataclasses.dataclass(frozen=True)
class SACHParams:
    """Hyperparameters that shape the update's program. Static (hashable): changing one recompiles.

    Field meanings are documented on the config fields of the same name (`sac_jax.config`).
    """

    learn_alpha: bool = True
    backup: str = "min"
    redq_subset: int = 2
    top_quantiles_to_drop: int = 2
    critic_dropout: float = 0.0
    actor_gradient: str = "reparametrize"
    num_actor_samples: int = 1
    target_update: str = "soft"
    target_update_period: int = 1
    backup_entropy: bool = True
    actor_entropy: bool = True
    actor_update_period: int = 1
    normalize_obs: bool = False


class BatchStatsTrainState(TrainState):
    """The TrainState of a network with Batch Renormalization (batch_renorm): also its running
    statistics, the flax "batch_stats" collection, which training passes update and the optimizer
    never touches. Other networks keep the plain TrainState, so their checkpoints keep their
    layout."""

    batch_stats: flax.core.FrozenDict


def variables(train_state: TrainState, params=None) -> dict:
    """The flax variables to apply `train_state`'s network with: `params` (default: its own) and,
    with batch_renorm, its running statistics. Applied with them alone the network is in
    evaluation mode (`training_pass` is the other mode)."""
    v = {"params": train_state.params if params is None else params}
    if isinstance(train_state, BatchStatsTrainState):
        v["batch_stats"] = train_state.batch_stats
    return v


def training_pass(train_state: TrainState, params, *inputs, **kwargs):
    """`train_state`'s network with `params` in training mode: (output, info). With batch_renorm
    its layers normalize with the batch's statistics and info is `{"batch_stats": the updated
    running statistics}`, for `update_*` to store; otherwise this is the plain apply, info {}."""
    if not isinstance(train_state, BatchStatsTrainState):
        return train_state.apply_fn({"params": params}, *inputs, **kwargs), {}
    out, mutated = train_state.apply_fn(
        variables(train_state, params), *inputs, mutable=["batch_stats"], **kwargs
    )
    return out, {"batch_stats": mutated["batch_stats"]}


@flax.struct.dataclass
class SACScalars:
    """The numeric hyperparameters of the losses, held as float32 leaves of the state: one compiled
    update serves every value, and `jax.vmap` over them trains a sweep (docs/scaling.md).
    Meanings as the config fields of the same name; `target_entropy` is already resolved."""

    gamma: jax.Array
    tau: jax.Array
    target_entropy: jax.Array
    reward_scale: jax.Array


@flax.struct.dataclass
class SACState:
    """Everything `update_step` reads and writes.

    actor / critic / temperature are `TrainState`s (params, optimizer state, apply_fn, step), the
    actor's and critic's `BatchStatsTrainState`s with batch_renorm; `temperature.params` is
    `{"log_alpha": scalar}`. `target_critic_params` has the critic's structure, and is empty
    with target_update="none" (no target critic). `obs_stats` are the running observation
    statistics (used when `hparams.normalize_obs`). `key` is consumed by each update; `step`
    counts updates (critic steps). `scalars` are the losses' numeric hyperparameters (leaves); the
    learning rates are leaves of the optimizer states (`sac_jax.optim.learning_rate`). `hparams`
    is a static field: it is not a leaf, so jit, vmap and Orbax see only arrays.
    """

    actor: TrainState
    critic: TrainState
    target_critic_params: flax.core.FrozenDict
    temperature: TrainState
    obs_stats: RunningStats
    key: jax.Array
    step: jax.Array
    scalars: SACScalars
    hparams: SACHParams = flax.struct.field(pytree_node=False)

    @property
    def alpha(self) -> jax.Array:
        return jnp.exp(self.temperature.params["log_alpha"])


def create_state(
    config: ml_collections.ConfigDict,
    obs_dim: int,
    action_dim: int,
    key: jax.Array | None = None,
    values: dict | None = None,
) -> SACState:
    """Build a fresh SACState from a config (see `sac_jax.config.default_config`).

    `key` defaults to `PRNGKey(config.seed)`. `values` overrides numeric hyperparameters (fields in
    `sac_jax.config.SWEEPABLE`: learning rates, init_alpha, gamma, tau, target_entropy,
    reward_scale) with scalars or traced arrays. Traceable: `jax.vmap(lambda k, v: create_state(c,
    o, a, k, v))(keys, values)` builds a stack of independent states, for many seeds and sweeps.

    Jitted as one program: run eagerly, Flax's initializers compile dozens of small XLA programs
    one op at a time, which was most of a cold start (22 s of it on the loaded benchmark machine).
    """
    if key is None:
        key = jax.random.PRNGKey(config.seed)
    values = dict(values or {})
    not_sweepable = sorted(set(values) - set(SWEEPABLE))
    if not_sweepable:
        raise ConfigError(f"values for {not_sweepable}: only {list(SWEEPABLE)} can be overridden")
    swept = sorted(f for f in SWEEPABLE if f not in values and is_sweep(config[f]))
    if swept:
        raise ConfigError(
            f"config fields {swept} hold lists of values (a sweep); create_state builds one run: "
            "pass each run's values with `values=`, or train the sweep with train.py"
        )
    return jax.jit(functools.partial(_build_state, config, obs_dim, action_dim))(key, values)


@functools.cache
def _module(cls, **fields):
    """One module object per definition: its `apply` (a static field of the state) is then the
    same in every state built from it, so separately created states share compiled updates."""
    return cls(**fields)


def _build_state(config, obs_dim: int, action_dim: int, key: jax.Array, values: dict):
    value = lambda field: values.get(field, config[field])  # noqa: E731
    key, actor_key, critic_key = jax.random.split(key, 3)
    obs = jnp.zeros((1, obs_dim), jnp.float32)
    action = jnp.zeros((1, action_dim), jnp.float32)

    renorm = dict(batch_renorm=config.batch_renorm, renorm_warmup=config.batch_renorm_warmup)
    actor_def = _module(
        TanhGaussianActor,
        action_dim=action_dim,
        hidden_dims=tuple(config.hidden_dims),
        activation=config.activation,
        log_std_min=config.log_std_min,
        log_std_max=config.log_std_max,
        state_dependent_std=config.state_dependent_std,
        **renorm,
    )
    critic_def = _module(
        CriticEnsemble,
        num_critics=config.num_critics,
        hidden_dims=tuple(config.critic_hidden_dims or config.hidden_dims),
        activation=config.activation,
        layer_norm=config.critic_layer_norm,
        dropout_rate=float(config.critic_dropout),
        num_quantiles=config.num_quantiles if config.backup == "tqc" else None,
        **renorm,
    )
    target_entropy = value("target_entropy")
    if target_entropy is None:
        target_entropy = -float(action_dim)
    # Each optimizer's schedule runs over its own number of updates in the run.
    critic_updates = max(config.total_steps - config.learning_starts, 1) * config.num_critic_updates
    actor_updates = critic_updates // config.actor_update_period

    def train_state(apply_fn, initial, lr_field, num_updates, network=True):
        # The optimizer is built with a placeholder rate and the run's rate set as a state leaf,
        # so its (static) closures never capture a traced value. The temperature is one number,
        # not weights: no weight decay, and Adam's usual beta1.
        tx = make_optimizer(
            1.0,
            config.lr_schedule,
            num_updates,
            config.max_grad_norm,
            config.weight_decay if network else 0.0,
            config.adam_b1 if network else 0.9,
        )
        if "batch_stats" in initial:  # the variables `init` gave
            state = BatchStatsTrainState.create(apply_fn=apply_fn, tx=tx, **initial)
        else:
            state = TrainState.create(apply_fn=apply_fn, params=initial["params"], tx=tx)
        # An array step (TrainState.create leaves a Python 0) keeps the first call's jit
        # signature equal to every later one's: one compile per run.
        return state.replace(
            step=jnp.zeros((), jnp.int32),
            opt_state=with_learning_rate(state.opt_state, value(lr_field)),
        )

    critic = train_state(
        critic_def.apply, critic_def.init(critic_key, obs, action), "critic_lr", critic_updates
    )
    if config.target_update == "none":
        target_critic_params = {}
    else:
        target_critic_params = jax.tree.map(jnp.copy, critic.params)  # own buffers: donatable
    log_alpha = jnp.log(jnp.asarray(value("init_alpha"), jnp.float32))
    return SACState(
        actor=train_state(
            actor_def.apply, actor_def.init(actor_key, obs), "actor_lr", actor_updates
        ),
        critic=critic,
        target_critic_params=target_critic_params,
        temperature=train_state(
            None, {"params": {"log_alpha": log_alpha}}, "alpha_lr", actor_updates, network=False
        ),
        obs_stats=RunningStats.create(obs_dim),
        key=key,
        step=jnp.zeros((), jnp.int32),
        scalars=SACScalars(
            **{f: jnp.asarray(value(f), jnp.float32) for f in ("gamma", "tau", "reward_scale")},
            target_entropy=jnp.asarray(target_entropy, jnp.float32),
        ),
        hparams=SACHParams(
            learn_alpha=bool(config.learn_alpha),
            backup=config.backup,
            redq_subset=int(config.redq_subset),
            top_quantiles_to_drop=int(config.top_quantiles_to_drop),
            critic_dropout=float(config.critic_dropout),
            actor_gradient=config.actor_gradient,
            num_actor_samples=int(config.num_actor_samples),
            target_update=config.target_update,
            target_update_period=int(config.target_update_period),
            backup_entropy=bool(config.backup_entropy),
            actor_entropy=bool(config.actor_entropy),
            actor_update_period=int(config.actor_update_period),
            normalize_obs=bool(config.normalize_obs),
        ),
    )
