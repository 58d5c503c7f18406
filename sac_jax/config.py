"""The default SAC configuration and its validation.

Every file under `configs/` starts from `default_config()` and overrides fields, so the set of
fields is defined once, here. `validate` rejects bad values early with a message that names the
field, the value and what is allowed.
"""

import json

import ml_collections
from ml_collections import config_dict

from sac_jax.networks import ACTIVATIONS
from sac_jax.optim import SCHEDULES

# Numeric hyperparameters held as leaves of the train state (learning rates in the optimizer states,
# the rest in `SACState.scalars`): each may be given a list of values, and one process trains the
# cross product of all such lists with the seeds (docs/scaling.md).
SWEEPABLE = (
    "actor_lr",
    "critic_lr",
    "alpha_lr",
    "init_alpha",
    "gamma",
    "tau",
    "target_entropy",
    "reward_scale",
)

CHOICES = {
    "backup": ("min", "mean", "doubleq", "redq", "tqc"),
    "actor_gradient": ("reparametrize", "reinforce"),
    "target_update": ("soft", "hard", "none"),
    "lr_schedule": SCHEDULES,
    "shard": ("seed", "batch"),
}


def _sweepable(value):
    """A numeric field that also accepts a list of values: `--config.tau="[0.005,0.01]"`."""
    return config_dict.FieldReference(value, field_type=object)


def is_sweep(value) -> bool:
    return isinstance(value, (list, tuple))


def default_config() -> ml_collections.ConfigDict:
    """SAC with automatic temperature (Haarnoja et al. 2018, "Algorithms and Applications")."""
    c = ml_collections.ConfigDict()
    # Task and run.
    c.env_id = "Pendulum-v1"  # a registered gymnasium id, or "package.module:Name" (docs/envs.md)
    c.env_kwargs = config_dict.FieldReference({}, field_type=object)  # keyword arguments of the env
    c.seed = 0
    c.num_seeds = 1  # train seeds seed .. seed + num_seeds - 1 in one process (docs/scaling.md)
    # With several devices: "seed" splits the seeds over them (num_seeds a multiple of the device
    # count; also over several hosts); "batch" replicates the state and splits each batch along its
    # rows (batch_size a multiple of the device count; one process). See docs/scaling.md.
    c.shard = "seed"
    c.total_steps = 1_000_000
    c.learning_starts = 5_000  # uniform random actions before this many env steps
    c.eval_interval = 10_000
    c.eval_episodes = 10
    c.bias_episodes = 1  # stochastic episodes per evaluation measuring Q's bias (sac_jax.bias)
    c.log_interval = 1_000
    # Checkpoints (WORKDIR/checkpoints/, see docs/checkpoints.md).
    c.checkpoint_interval = 50_000  # env steps between saves; a run also saves at its end
    c.keep_checkpoints = 2  # the latest K are kept, plus the best by eval return
    c.checkpoint_buffer = True  # save the replay buffer too (exact resume; large for long runs)
    # Replay and update-to-data ratio. Per env step one dispatch runs `num_critic_updates` update
    # steps under lax.scan; each does a critic step, and every `actor_update_period`-th also an
    # actor and temperature step (the common "K critic steps, then one actor step" schedule is
    # num_critic_updates=K, actor_update_period=K).
    c.batch_size = 256
    c.buffer_size = 1_000_000
    c.num_critic_updates = 1  # critic gradient steps per env step
    c.actor_update_period = 1  # actor (and temperature) step every this many critic steps
    c.n_step = 1  # n-step returns: up to n rewards summed per transition, at sample time
    # SAC.
    c.gamma = _sweepable(0.99)
    c.reward_scale = _sweepable(1.0)  # r -> reward_scale * r in the backup (SAC paper v1's)
    c.learn_alpha = True  # False keeps alpha fixed at init_alpha
    c.init_alpha = _sweepable(1.0)
    c.target_entropy = _sweepable(None)  # None -> -action_dim
    c.backup_entropy = True  # False: drop -alpha * log pi from the backup (eq. 3)
    c.actor_entropy = True  # False: drop alpha * log pi from the actor loss (eq. 7)
    # Critic ensemble and backup (see sac_jax.losses.backup_value).
    c.num_critics = 2
    c.backup = "min"  # min (clipped double-Q) | mean | doubleq (needs 2 critics) | redq | tqc
    c.redq_subset = 2  # backup=redq: min over a fresh random subset of this many critics
    c.num_quantiles = 25  # backup=tqc: quantiles M each critic outputs
    c.top_quantiles_to_drop = 2  # backup=tqc: d, largest atoms dropped per critic from the target
    # Target critic.
    # soft: Polyak with tau every update | hard: copy every period updates | none: no target
    # critic; the backup bootstraps from the online critics in one pass with Q(s, a) (CrossQ)
    c.target_update = "soft"
    c.tau = _sweepable(0.005)
    c.target_update_period = 1  # target_update=hard: copy after every this many critic updates
    # Actor gradient.
    c.actor_gradient = "reparametrize"  # reparametrize (eq. 11) | reinforce (score function)
    c.num_actor_samples = 1  # actions sampled per state in the actor loss
    # Optimizers: Adam per network; schedules decay over each network's updates in the run.
    c.actor_lr = _sweepable(3e-4)
    c.critic_lr = _sweepable(3e-4)
    c.alpha_lr = _sweepable(3e-4)
    c.lr_schedule = "constant"  # constant | linear (to 0) | cosine (to 0)
    c.max_grad_norm = config_dict.placeholder(float)  # None: no clipping; else global-norm clip
    c.weight_decay = 0.0  # > 0: AdamW's decoupled weight decay on the actor and critics
    c.adam_b1 = 0.9  # Adam's beta1 (first-moment decay) for the actor and critics
    # Networks.
    c.hidden_dims = (256, 256)  # widths, one per hidden layer (depth = length)
    c.critic_hidden_dims = config_dict.placeholder(tuple)  # the critics' widths; None: hidden_dims
    c.activation = "relu"
    c.critic_layer_norm = False  # LayerNorm after each critic hidden layer
    c.critic_dropout = 0.0  # dropout rate after each critic hidden layer in the updates (DroQ)
    # Batch Renormalization on the input and after every hidden activation of the actor and the
    # critics (CrossQ; needs target_update="none"), plain batch norm for the first warm-up passes.
    c.batch_renorm = False
    c.batch_renorm_warmup = 100_000  # training passes of each network with r = 1, d = 0
    c.state_dependent_std = True  # False: one learned log-std vector for all states
    c.log_std_min = -5.0
    c.log_std_max = 2.0
    # Observation normalization: running mean/var in the state, applied inside jitted functions.
    c.normalize_obs = False
    # Weights & Biases (pip install -e ".[wandb]"): one W&B run per trial when a project is set.
    c.wandb_project = config_dict.placeholder(str)
    c.wandb_entity = config_dict.placeholder(str)  # None: the W&B default entity
    return c


def task(env_id: str, **overrides) -> ml_collections.ConfigDict:
    """`default_config()` on `env_id` with `overrides`: a config file states only what differs."""
    c = default_config()
    c.env_id = env_id
    c.update(overrides)
    return c


def env_kwargs(config: ml_collections.ConfigDict) -> dict:
    """`config.env_kwargs` as a plain dict. The command line gives a Python literal (a dict) or,
    when it holds JSON's true/false/null, a JSON string; ml_collections may hold a ConfigDict.

    Raises TypeError or ValueError when it is none of these.
    """
    kwargs = config.env_kwargs
    if isinstance(kwargs, str):
        kwargs = json.loads(kwargs)
    if isinstance(kwargs, ml_collections.ConfigDict):
        kwargs = kwargs.to_dict()
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"env_kwargs {kwargs!r} is not a dict with string keys")
    return kwargs


def to_json(config: ml_collections.ConfigDict) -> dict:
    """The config as JSON data (what config.json and checkpoints record)."""
    return json.loads(config.to_json_best_effort())


def from_json(saved: dict) -> ml_collections.ConfigDict:
    """A saved config; fields added to default_config since it was saved get their defaults."""
    config = default_config()
    config.update(saved)
    return config


class ConfigError(ValueError):
    """A config value (or the env it names) that this run cannot use; the message names the field."""


def _fail(field: str, value, allowed: str):
    raise ConfigError(f"config.{field}={value!r} is invalid: {allowed}")


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise ValueError naming the first bad field; unknown fields are errors, not ignored."""
    known = set(default_config().keys())
    unknown = sorted(set(config.keys()) - known)
    if unknown:
        raise ConfigError(f"unknown config field(s) {unknown}; known fields: {sorted(known)}")
    positive_ints = (
        "num_seeds total_steps eval_interval eval_episodes log_interval checkpoint_interval "
        "keep_checkpoints batch_size buffer_size num_critic_updates actor_update_period "
        "num_critics redq_subset num_quantiles n_step num_actor_samples target_update_period"
    ).split()
    for field in positive_ints:
        value = config[field]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            _fail(field, value, "must be a positive integer")
    for field in ("seed", "bias_episodes", "top_quantiles_to_drop", "batch_renorm_warmup"):
        value = config[field]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            _fail(field, value, "must be a non-negative integer")
    try:
        env_kwargs(config)
    except (TypeError, ValueError):
        _fail(
            "env_kwargs", config.env_kwargs, 'must be a dict of keyword arguments, e.g. {"g": 9.8}'
        )
    for field in ("wandb_project", "wandb_entity"):
        name = config[field]
        if name is not None and (
            not isinstance(name, str) or not name or set(name) & set(r"/\#?%:")
        ):
            _fail(field, name, "must be None (off) or a non-empty name without any of / \\ # ? % :")
    for field in ("checkpoint_buffer", "batch_renorm"):
        if not isinstance(config[field], bool):
            _fail(field, config[field], "must be True or False")
    if config.learning_starts < 1:
        _fail(
            "learning_starts", config.learning_starts, "must be >= 1 (the first batch needs data)"
        )
    if config.buffer_size < 2:
        _fail("buffer_size", config.buffer_size, "must be >= 2 (a transition takes two rows)")
    if config.batch_size > config.buffer_size:
        _fail("batch_size", config.batch_size, f"must be <= buffer_size ({config.buffer_size})")
    _validate_sweepable(config)
    if config.keep_checkpoints < 2 and (
        config.num_seeds > 1 or any(is_sweep(config[f]) for f in SWEEPABLE)
    ):
        _fail(
            "keep_checkpoints",
            config.keep_checkpoints,
            "must be >= 2 when a run has several trials (seeds or sweep points): one stopped "
            "between two trials' saves resumes from the step before, which every trial must keep",
        )
    for field, allowed in CHOICES.items():
        if config[field] not in allowed:
            _fail(field, config[field], f"must be one of {list(allowed)}")
    if config.backup == "doubleq" and config.num_critics != 2:
        _fail("num_critics", config.num_critics, "must be 2 with backup='doubleq'")
    if config.backup == "redq" and config.redq_subset > config.num_critics:
        _fail("redq_subset", config.redq_subset, f"must be <= num_critics ({config.num_critics})")
    if config.backup == "tqc" and config.top_quantiles_to_drop >= config.num_quantiles:
        _fail(
            "top_quantiles_to_drop",
            config.top_quantiles_to_drop,
            f"must be < num_quantiles ({config.num_quantiles}): each critic keeps an atom",
        )
    if config.batch_renorm and config.target_update != "none":  # CrossQ's joint pass
        _fail("target_update", config.target_update, "must be 'none' with batch_renorm=True")
    rate = config.critic_dropout
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        _fail("critic_dropout", rate, "must be a number in [0, 1) (0: no dropout)")
    wd = config.weight_decay
    if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not wd >= 0.0:
        _fail("weight_decay", config.weight_decay, "must be a number >= 0 (0: plain Adam)")
    b1 = config.adam_b1
    if isinstance(b1, bool) or not isinstance(b1, (int, float)) or not 0.0 <= b1 < 1.0:
        _fail("adam_b1", b1, "must be a number in [0, 1)")
    if config.max_grad_norm is not None and not config.max_grad_norm > 0.0:
        _fail("max_grad_norm", config.max_grad_norm, "must be None (no clipping) or > 0")
    for field in ("hidden_dims", "critic_hidden_dims"):
        widths = config[field]
        if field == "critic_hidden_dims" and widths is None:  # the actor's widths
            continue
        if not widths or any(
            isinstance(w, bool) or not isinstance(w, int) or w <= 0 for w in widths
        ):
            _fail(field, widths, "must be a non-empty sequence of positive widths")
    if config.activation not in ACTIVATIONS:
        _fail("activation", config.activation, f"must be one of {sorted(ACTIVATIONS)}")
    if not config.log_std_min < config.log_std_max:
        _fail("log_std_min", config.log_std_min, f"must be < log_std_max ({config.log_std_max})")


_SWEEPABLE_RANGES = {
    "gamma": (lambda v: 0.0 <= v < 1.0, "must be in [0, 1)"),
    "tau": (lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"),
    "target_entropy": (lambda v: True, "must be a number or None (-action_dim)"),
    **{
        f: (lambda v: v > 0.0, "must be > 0")
        for f in ("actor_lr", "critic_lr", "alpha_lr", "init_alpha", "reward_scale")
    },
}


def _validate_sweepable(config: ml_collections.ConfigDict) -> None:
    """Each SWEEPABLE field: a number (None too for target_entropy), or a non-empty list of
    distinct such values, each in the field's range."""
    for field in SWEEPABLE:
        value = config[field]
        in_range, allowed = _SWEEPABLE_RANGES[field]
        if is_sweep(value) and (not value or len(set(value)) != len(value)):
            _fail(field, value, "a sweep must be a non-empty list of distinct values")
        for v in value if is_sweep(value) else [value]:
            if v is None and field == "target_entropy" and not is_sweep(value):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                _fail(field, value, f"must be a number or a list of numbers; {allowed}")
            if not in_range(v):
                _fail(field, value, allowed if not is_sweep(value) else f"every value {allowed}")
