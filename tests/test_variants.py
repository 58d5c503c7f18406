"""Each variant knob against an independent computation, compile counts, experiment configs."""

import glob
import importlib.util
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax.training.train_state import TrainState

from sac_jax import (
    Batch,
    actor_loss,
    backup_value,
    create_state,
    critic_target,
    default_config,
    make_update_steps,
    select_action,
    update_stats,
    update_step,
    validate,
)
from sac_jax.loop import train, vmap_seeds
from sac_jax.networks import TanhGaussianActor
from sac_jax.normalization import RunningStats, normalize
from sac_jax.optim import make_optimizer, make_schedule
from sac_jax.placement import placement
from sac_jax.writers import read_rows
from tests.tiny import TINY_RUN, tiny_config

OBS_DIM, ACTION_DIM, B = 3, 2, 16
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small_config(**overrides):
    c = default_config()
    c.hidden_dims = (32, 32)
    c.batch_size = 32
    c.update(overrides)
    validate(c)
    return c


def make_batch(seed=0, lead=()):
    rng = np.random.default_rng(seed)
    f = lambda *shape: rng.normal(size=lead + shape).astype(np.float32)  # noqa: E731
    terminated = (rng.uniform(size=lead + (B,)) < 0.3).astype(np.float32)
    action = rng.uniform(-1, 1, lead + (B, ACTION_DIM)).astype(np.float32)
    return Batch(f(B, OBS_DIM), action, f(B), f(B, OBS_DIM), terminated)


def tree_equal(a, b):
    return all(jax.tree.leaves(jax.tree.map(lambda x, y: bool(jnp.array_equal(x, y)), a, b)))


def next_sample(state, batch, key):
    """What critic_target samples at s' with `key` (default backups split no extra key)."""
    pi = state.actor.apply_fn({"params": state.actor.params}, batch.next_obs)
    a, log_prob = pi.sample_and_log_prob(seed=key)
    q = state.critic.apply_fn({"params": state.target_critic_params}, batch.next_obs, a)
    return np.asarray(q, np.float64), np.asarray(log_prob, np.float64)


# Backups ------------------------------------------------------------------------------------------


def test_backup_reductions_on_hand_made_values():
    next_q = jnp.array([[1.0, 5.0, -2.0], [3.0, 2.0, -1.0]])
    key = jax.random.PRNGKey(0)
    np.testing.assert_allclose(backup_value(next_q, "min", key), [1.0, 2.0, -2.0])
    np.testing.assert_allclose(backup_value(next_q, "mean", key), [2.0, 3.5, -1.5])
    # Double-Q: critic 0 regresses on target critic 1, and critic 1 on target critic 0.
    np.testing.assert_allclose(
        backup_value(next_q, "doubleq", key), [[3.0, 2.0, -1.0], [1.0, 5.0, -2.0]]
    )


def test_doubleq_target_on_a_two_critic_batch():
    state = create_state(small_config(backup="doubleq", init_alpha=0.5), OBS_DIM, ACTION_DIM)
    batch, key = make_batch(), jax.random.PRNGKey(3)
    q, log_prob = next_sample(state, batch, key)
    r, d = np.float64(batch.reward), np.float64(batch.terminated)
    expected = np.stack([r + 0.99 * (1 - d) * (q[1 - i] - 0.5 * log_prob) for i in range(2)])
    y = critic_target(state, batch, key)
    assert y.shape == (2, B)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_mean_target_on_an_ensemble():
    state = create_state(small_config(backup="mean", num_critics=4), OBS_DIM, ACTION_DIM)
    batch, key = make_batch(), jax.random.PRNGKey(4)
    q, log_prob = next_sample(state, batch, key)
    expected = batch.reward + 0.99 * (1 - batch.terminated) * (q.mean(0) - log_prob)
    np.testing.assert_allclose(critic_target(state, batch, key), expected, rtol=1e-5, atol=1e-5)


def test_redq_is_min_over_a_fresh_random_subset():
    n, m = 5, 2
    next_q = jnp.asarray(
        np.arange(n)[:, None] * 10.0 + np.arange(B)[None, :]
    )  # critic i is i-th lowest
    lowest = []
    for k in range(400):
        y = np.asarray(backup_value(next_q, "redq", jax.random.PRNGKey(k), m))
        i = int(y[0] // 10)  # the lowest critic in the subset, shared by the whole batch
        np.testing.assert_allclose(y, next_q[i])
        lowest.append(i)
    # P(lowest of a uniform m-subset of n is i) = C(n-1-i, m-1) / C(n, m): 0.4, 0.3, 0.2, 0.1, 0.
    freq = np.bincount(lowest, minlength=n) / len(lowest)
    np.testing.assert_allclose(freq, [0.4, 0.3, 0.2, 0.1, 0.0], atol=0.08)
    # A subset drawn with replacement would make the highest critic the minimum 1 time in 25.
    assert freq[-1] == 0
    np.testing.assert_allclose(
        backup_value(next_q, "redq", jax.random.PRNGKey(0), n), next_q.min(0)
    )


# Entropy switches and reward scale ----------------------------------------------------------------


def test_backup_entropy_switch_and_reward_scale():
    batch, key = make_batch(), jax.random.PRNGKey(5)
    base = create_state(small_config(init_alpha=0.3), OBS_DIM, ACTION_DIM)
    q, log_prob = next_sample(base, batch, key)
    r, notdone = np.float64(batch.reward), 0.99 * (1 - np.float64(batch.terminated))
    cases = {
        (True, 1.0): r + notdone * (q.min(0) - 0.3 * log_prob),
        (False, 1.0): r + notdone * q.min(0),
        (True, 5.0): 5.0 * r + notdone * (q.min(0) - 0.3 * log_prob),
    }
    for (entropy, scale), expected in cases.items():
        config = small_config(init_alpha=0.3, backup_entropy=entropy, reward_scale=scale)
        state = create_state(config, OBS_DIM, ACTION_DIM)
        np.testing.assert_allclose(critic_target(state, batch, key), expected, rtol=1e-5, atol=1e-4)


def test_actor_entropy_switch():
    batch, key = make_batch(), jax.random.PRNGKey(6)
    on = create_state(small_config(init_alpha=0.3), OBS_DIM, ACTION_DIM)
    off = create_state(small_config(init_alpha=0.3, actor_entropy=False), OBS_DIM, ACTION_DIM)
    loss_on, info = actor_loss(on.actor.params, on, batch, key)
    loss_off, _ = actor_loss(off.actor.params, off, batch, key)
    # Same sample: the two losses differ by exactly alpha * E[log pi] = -alpha * entropy.
    np.testing.assert_allclose(loss_on - loss_off, -0.3 * info["entropy"], rtol=1e-5, atol=1e-6)


# Actor gradient -----------------------------------------------------------------------------------


def quadratic_problem(actor_gradient, num_samples):
    """A tiny actor on a known Q(s, a) = -|a - 0.3|^2 (one 'critic'), with the entropy bonus on."""
    config = small_config(
        hidden_dims=(8,),
        init_alpha=0.2,
        num_critics=1,
        learn_alpha=False,
        actor_gradient=actor_gradient,
        num_actor_samples=num_samples,
    )
    state = create_state(config, 2, 1)
    quadratic = lambda variables, obs, a: -jnp.sum(jnp.square(a - 0.3), axis=-1)[None]  # noqa: E731
    critic = TrainState.create(apply_fn=quadratic, params={}, tx=optax.sgd(0.0))
    obs = jnp.asarray(np.random.default_rng(0).normal(size=(4, 2)), jnp.float32)
    batch = Batch(obs, None, None, None, None)
    grad = jax.jit(jax.grad(lambda p, k: actor_loss(p, state.replace(critic=critic), batch, k)[0]))
    return state.actor.params, grad


def test_reinforce_gradient_matches_reparametrized_in_expectation():
    grads = {}
    for name, samples in (("reparametrize", 4_000), ("reinforce", 20_000)):
        params, grad = quadratic_problem(name, samples)
        runs = [grad(params, jax.random.PRNGKey(k)) for k in range(20)]
        flat = np.stack([np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)]) for g in runs])
        grads[name] = (flat.mean(0), flat.std(0, ddof=1) / np.sqrt(len(flat)))
    (g_rp, se_rp), (g_rf, se_rf) = grads["reparametrize"], grads["reinforce"]
    z = np.abs(g_rf - g_rp) / np.sqrt(se_rp**2 + se_rf**2 + 1e-12)
    assert z.max() < 5.0, z
    assert np.linalg.norm(g_rf - g_rp) < 0.2 * np.linalg.norm(g_rp)  # not vacuous: errors are small


# Target update, delayed actor, update-to-data ---------------------------------------------------


def test_hard_target_copies_exactly_at_the_period():
    state = create_state(
        small_config(target_update="hard", target_update_period=3), OBS_DIM, ACTION_DIM
    )
    initial, copied = state.target_critic_params, None
    for n in range(1, 8):
        state, _ = update_step(state, make_batch(n))
        if n % 3 == 0:
            assert tree_equal(state.target_critic_params, state.critic.params)
            copied = state.target_critic_params
        else:
            assert tree_equal(state.target_critic_params, initial if copied is None else copied)
            assert not tree_equal(state.target_critic_params, state.critic.params)


def test_soft_target_is_polyak():
    state = create_state(small_config(tau=0.1), OBS_DIM, ACTION_DIM)
    new, _ = update_step(state, make_batch())
    expected = jax.tree.map(
        lambda p, t: 0.1 * p + 0.9 * t, new.critic.params, state.target_critic_params
    )
    jax.tree.map(
        lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7),
        new.target_critic_params,
        expected,
    )


def test_delayed_actor_and_fused_updates():
    config = small_config(num_critic_updates=4, actor_update_period=2)
    state = create_state(config, OBS_DIM, ACTION_DIM)
    batches = make_batch(lead=(4,))
    stepped, actors = state, [state.actor.params]
    for i in range(4):
        stepped, metrics = update_step(stepped, jax.tree.map(lambda x, i=i: x[i], batches))
        actors.append(stepped.actor.params)
        assert np.isnan(metrics["actor_loss"]) == (i % 2 == 0)
    changed = [not tree_equal(a, b) for a, b in zip(actors, actors[1:])]
    assert changed == [False, True, False, True]  # actor steps on updates 2 and 4 only
    fused, fused_metrics = make_update_steps()(state, batches)
    assert tree_equal(fused.actor.params, stepped.actor.params)
    np.testing.assert_allclose(fused_metrics["actor_loss"], metrics["actor_loss"], rtol=1e-6)


def test_a_delayed_actor_logs_only_the_metrics_its_update_computed(tmp_path, capsys):
    """Period 3, updates from step 101: the updates logged at steps 150, 200 and 300 (the 50th,
    100th and 200th) skip the actor, the one at 250 (the 150th) steps it. Skipped metrics are
    left blank, not NaN, and alpha, the temperature in use, is logged on every row."""
    config = tiny_config(actor_update_period=3, log_interval=50)
    train(config, str(tmp_path), quiet=False)
    rows = {int(r["step"]): r for r in read_rows(str(tmp_path), "train.csv")}
    assert [s for s in rows if rows[s]["actor_loss"]] == [250]
    assert all(rows[s]["entropy"] == "" for s in (150, 200, 300))
    assert all(np.isfinite(float(rows[s]["alpha"])) for s in (150, 200, 250, 300))
    assert "nan" not in capsys.readouterr().out.lower()


# Optimizers, networks -----------------------------------------------------------------------------


def test_lr_schedule_values():
    lr, total = 1e-3, 100
    for t in (0, 25, 50, 100):
        np.testing.assert_allclose(make_schedule("constant", lr, total)(t), lr, rtol=1e-6)
        np.testing.assert_allclose(
            make_schedule("linear", lr, total)(t), lr * (1 - t / total), rtol=1e-6
        )
        cosine = lr * 0.5 * (1 + np.cos(np.pi * t / total))
        np.testing.assert_allclose(
            make_schedule("cosine", lr, total)(t), cosine, rtol=1e-5, atol=1e-9
        )


def test_linear_schedule_runs_over_the_critic_updates_of_a_run():
    # 1 env step with updates x 1 critic update: the learning rate is 0 from the second update on.
    config = small_config(lr_schedule="linear", total_steps=101, learning_starts=100)
    state = create_state(config, OBS_DIM, ACTION_DIM)
    first, _ = update_step(state, make_batch(1))
    second, _ = update_step(first, make_batch(2))
    assert not tree_equal(first.critic.params, state.critic.params)
    assert tree_equal(second.critic.params, first.critic.params)


def test_gradient_clipping_clips_the_global_norm_before_adam():
    tx = make_optimizer(0.1, "constant", 1, max_grad_norm=1.0)
    reference = optax.adam(0.1)
    params = {"w": jnp.zeros(3), "b": jnp.zeros(2)}
    state, ref_state = tx.init(params), reference.init(params)
    for scale in (10.0, 0.1, 3.0):  # Adam's later steps depend on the earlier gradient sizes
        grads = {"w": scale * jnp.array([1.0, -2.0, 0.5]), "b": scale * jnp.array([3.0, 1.0])}
        norm = np.sqrt(sum(float(jnp.sum(g**2)) for g in grads.values()))
        clipped = {k: g * min(1.0, 1.0 / norm) for k, g in grads.items()}
        updates, state = tx.update(grads, state, params)
        ref_updates, ref_state = reference.update(clipped, ref_state, params)
        jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5), updates, ref_updates)


def test_state_independent_std_and_critic_layer_norm():
    config = small_config(state_dependent_std=False, critic_layer_norm=True)
    state = create_state(config, OBS_DIM, ACTION_DIM)
    assert state.actor.params["log_std"].shape == (ACTION_DIM,)
    obs = make_batch().obs
    std = state.actor.apply_fn({"params": state.actor.params}, obs).distribution.stddev()
    np.testing.assert_allclose(std, np.broadcast_to(std[0], std.shape))
    assert "LayerNorm_0" in jax.tree_util.tree_structure(state.critic.params).__repr__()


def test_log_std_is_squashed_into_its_bounds():
    """log_std = -5 + 0.5 * (2 - -5) * (tanh(raw) + 1): raw -100, 0, 100 -> -5, -1.5, 2."""
    actor = TanhGaussianActor(action_dim=3, hidden_dims=(4,), state_dependent_std=False)
    params = actor.init(jax.random.PRNGKey(0), jnp.zeros((1, OBS_DIM)))["params"]
    params["log_std"] = jnp.array([-100.0, 0.0, 100.0])
    pi = actor.apply({"params": params}, jnp.zeros((1, OBS_DIM)))
    np.testing.assert_allclose(pi.distribution.stddev()[0], np.exp([-5.0, -1.5, 2.0]), rtol=1e-6)


@pytest.mark.parametrize("target_entropy, expected", [(None, -4.0), (-1.5, -1.5)])
def test_target_entropy_defaults_to_minus_the_action_dimension(target_entropy, expected):
    state = create_state(small_config(target_entropy=target_entropy), OBS_DIM, action_dim=4)
    assert float(state.scalars.target_entropy) == expected


# Observation normalization ------------------------------------------------------------------------


def test_running_stats_match_float64_numpy():
    """Chunks with different means and few rows, so that every term of the merge matters and
    the sample variance (M2 / (n - 1)) would be 1/39 off the population variance."""
    rng = np.random.default_rng(0)
    chunks = [
        rng.normal(m, s, size=(n, OBS_DIM)).astype(np.float32)
        for m, s, n in ((100, 1, 3), (90, 3, 20), (110, 0.5, 1), (105, 2, 16))
    ]
    stats = RunningStats.create(OBS_DIM)
    for c in chunks:
        stats = update_stats(stats, jnp.asarray(c))
    data = np.concatenate(chunks).astype(np.float64)
    assert float(stats.count) == len(data)
    np.testing.assert_allclose(stats.mean, data.mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats.var, data.var(0), rtol=1e-5)


def test_normalize_matches_float64_numpy():
    """(obs - mean) / sqrt(var + 1e-8), clipped to [-10, 10]; one value lies beyond the clip."""
    mean, var = np.array([1.0, -2.0, 0.5]), np.array([4.0, 0.25, 1e-6])
    stats = RunningStats(count=jnp.float32(10), mean=jnp.float32(mean), var=jnp.float32(var))
    obs = np.array([[3.0, -2.5, 0.5], [-1.0, 0.0, 0.6]])
    expected = np.clip((obs - mean) / np.sqrt(var + 1e-8), -10, 10)
    assert expected[1, 2] == 10  # 0.1 / sqrt(1.01e-6) = 99.5, clipped
    np.testing.assert_allclose(normalize(stats, jnp.float32(obs)), expected, rtol=1e-6)


def test_normalization_is_applied_inside_the_jitted_functions():
    rng = np.random.default_rng(1)
    stats = update_stats(
        RunningStats.create(OBS_DIM), jnp.asarray(rng.normal(2, 3, (500, OBS_DIM)), jnp.float32)
    )
    on = create_state(small_config(normalize_obs=True), OBS_DIM, ACTION_DIM).replace(
        obs_stats=stats
    )
    off = create_state(small_config(), OBS_DIM, ACTION_DIM)
    raw = make_batch()
    normed = raw._replace(obs=normalize(stats, raw.obs), next_obs=normalize(stats, raw.next_obs))
    new_on, m_on = update_step(on, raw)
    new_off, m_off = update_step(off, normed)
    np.testing.assert_allclose(m_on["critic_loss"], m_off["critic_loss"], rtol=1e-5)
    np.testing.assert_allclose(
        select_action(new_on.actor, raw.obs, None, new_on.obs_stats),
        select_action(new_off.actor, normed.obs),
        rtol=1e-5,
        atol=1e-6,
    )


# Validation and compilation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, field",
    [
        (dict(backup="max"), "backup"),
        (dict(backup="doubleq", num_critics=3), "num_critics"),
        (dict(backup="redq", num_critics=3, redq_subset=4), "redq_subset"),
        (dict(actor_gradient="score"), "actor_gradient"),
        (dict(num_actor_samples=0), "num_actor_samples"),
        (dict(target_update="polyak"), "target_update"),
        (dict(target_update_period=0), "target_update_period"),
        (dict(lr_schedule="step"), "lr_schedule"),
        (dict(max_grad_norm=-1.0), "max_grad_norm"),
        (dict(actor_update_period=0), "actor_update_period"),
        (dict(reward_scale=0.0), "reward_scale"),
    ],
)
def test_validation_names_field_and_value(overrides, field):
    c = default_config()
    c.update(overrides)
    with pytest.raises(ValueError, match=rf"config\.{field}="):
        validate(c)


VARIANTS = [
    dict(),
    dict(backup="mean", num_critics=3),
    dict(backup="doubleq"),
    dict(backup="redq", num_critics=5, redq_subset=2),
    dict(actor_gradient="reinforce", num_actor_samples=3),
    dict(target_update="hard", target_update_period=4),
    dict(backup_entropy=False, actor_entropy=False, learn_alpha=False),
    dict(num_critic_updates=2, actor_update_period=2),
    dict(lr_schedule="cosine", max_grad_norm=1.0),
    dict(normalize_obs=True, reward_scale=3.0, state_dependent_std=False, critic_layer_norm=True),
    dict(backup="tqc", num_critics=3, num_quantiles=5, top_quantiles_to_drop=2),
    dict(critic_dropout=0.01, critic_layer_norm=True, num_critic_updates=4, actor_update_period=4),
]


@pytest.mark.parametrize("overrides", VARIANTS, ids=lambda o: ",".join(o) or "default")
def test_each_variant_compiles_one_function_once(overrides):
    config = small_config(**overrides)
    steps = make_update_steps()
    state = create_state(config, OBS_DIM, ACTION_DIM)
    for i in range(3):
        state, metrics = steps(state, make_batch(i, lead=(config.num_critic_updates,)))
    assert steps._cache_size() == 1
    assert np.isfinite(float(metrics["critic_loss"]))


# End to end ---------------------------------------------------------------------------------------

EXPERIMENTS = sorted(
    path
    for path in glob.glob(os.path.join(ROOT, "configs", "experiments", "*.py"))
    if os.path.basename(path) not in ("__init__.py", "common.py")
)


def load(path):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", EXPERIMENTS, ids=os.path.basename)
def test_experiment_config_runs_end_to_end(path, tmp_path):
    module = load(path)
    assert module.__doc__ and len(module.__doc__.strip().splitlines()) == 1
    config = module.get_config()
    config.update(TINY_RUN, buffer_size=1_000)
    steps = make_update_steps()
    (result,) = train(config, str(tmp_path), quiet=True, update_fn=steps)
    assert np.isfinite(result["return_mean"])
    update = vmap_seeds(steps, placement(1, config.batch_size))
    assert update._cache_size() == 1  # the run compiled its (seed-vmapped) update once
    assert os.path.exists(tmp_path / "eval.csv")


def test_normalized_run_trains(tmp_path):  # 2,100 steps: two statistics merges
    config = small_config(
        env_id="Pendulum-v1",
        total_steps=2_100,
        learning_starts=100,
        eval_interval=2_100,
        eval_episodes=1,
        normalize_obs=True,
    )
    assert np.isfinite(train(config, str(tmp_path), quiet=True)[0]["return_mean"])


def test_normalized_seeds_resume_without_their_buffers(tmp_path):
    """Saved at 1,100 without the replay buffers, resumed: at the merge at 2,000 the seeds have
    written different numbers of rows since (InvertedPendulum's episodes end at random)."""
    config = tiny_config(
        env_id="InvertedPendulum-v5",
        num_seeds=2,
        normalize_obs=True,
        checkpoint_buffer=False,
        total_steps=1_100,
        checkpoint_interval=1_100,
        eval_interval=1_100,
    )
    train(config, str(tmp_path), quiet=True)
    config.update(total_steps=2_000, eval_interval=2_000)
    results = train(config, str(tmp_path), quiet=True)
    assert all(np.isfinite(r["return_mean"]) for r in results)


def test_example_variant_trains(tmp_path):
    example = load(os.path.join(ROOT, "examples", "l2_critic.py"))
    config = small_config(total_steps=300, learning_starts=100, eval_interval=300, eval_episodes=1)
    (result,) = train(config, str(tmp_path), quiet=True, update_fn=example.update_fn)
    assert np.isfinite(result["return_mean"])
