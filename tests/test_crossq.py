"""CrossQ (batch_renorm, target_update="none") against float64 NumPy: Batch Renormalization in
training and evaluation mode (running statistics, r/d clipping, the warm-up, the stopped gradient),
the critics' joint pass and the backup from its next-state half, no target critic, and the
deterministic policy of a checkpoint through load_policy and export."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sac_jax import (
    Batch,
    BatchRenorm,
    create_state,
    default_config,
    joint_critic_loss,
    load_exported,
    load_policy,
    select_action,
    training_pass,
    update_step,
    validate,
    variables,
)
from sac_jax.export import export_policy
from tests.helpers import fresh_run, save, small_config

EPS, MOMENTUM, R_MAX, D_MAX = 1e-3, 0.99, 3.0, 5.0
OBS_DIM, ACTION_DIM, B = 3, 2, 16


def renorm_reference(x, stats, scale, bias, warmup):
    """One training pass of Ioffe's Algorithm 1 in float64: (y, updated (mean, var, steps), r, d)."""
    x = np.asarray(x, np.float64)
    mean, var, steps = (np.asarray(s, np.float64) for s in stats)
    mu_b = x.mean(axis=0)
    var_b = ((x - mu_b) ** 2).mean(axis=0)
    sigma_b, sigma = np.sqrt(var_b + EPS), np.sqrt(var + EPS)
    if steps >= warmup:
        r = np.clip(sigma_b / sigma, 1 / R_MAX, R_MAX)
        d = np.clip((mu_b - mean) / sigma, -D_MAX, D_MAX)
    else:
        r, d = np.ones_like(mu_b), np.zeros_like(mu_b)
    y = ((x - mu_b) / sigma_b * r + d) * scale + bias
    new = (
        MOMENTUM * mean + (1 - MOMENTUM) * mu_b,
        MOMENTUM * var + (1 - MOMENTUM) * var_b,
        steps + 1,
    )
    return y, new, r, d


def renorm_eval_reference(x, stats, scale, bias):
    mean, var = (np.asarray(s, np.float64) for s in stats[:2])
    return (np.asarray(x, np.float64) - mean) / np.sqrt(var + EPS) * scale + bias


# Per feature: unclipped; batch std far above the running one (r clipped at r_max); far below
# (r clipped at 1 / r_max); mean far from the running mean (d clipped at d_max).
LOC, SPREAD = np.array([0.0, 0.0, 0.0, 20.0]), np.array([1.0, 10.0, 0.05, 1.0])
RNG = np.random.default_rng(0)
BATCHES = [(LOC + SPREAD * RNG.normal(size=(B, 4))).astype(np.float32) for _ in range(6)]
SCALE, BIAS = RNG.uniform(0.5, 2.0, 4), RNG.normal(size=4)


def renorm_module(warmup):
    module = BatchRenorm(warmup=warmup)
    v = module.init(jax.random.PRNGKey(0), BATCHES[0])
    assert set(v["batch_stats"]) == {"mean", "var", "steps"}
    params = {"scale": jnp.asarray(SCALE, jnp.float32), "bias": jnp.asarray(BIAS, jnp.float32)}
    return module, {"params": params, "batch_stats": v["batch_stats"]}


def as_tuple(stats):
    return stats["mean"], stats["var"], stats["steps"]


def test_batch_renorm_matches_float64_in_training_and_evaluation():
    """Two warm-up passes (plain batch norm), then four with r and d, every bound reached."""
    module, v = renorm_module(warmup=2)
    np.testing.assert_array_equal(v["batch_stats"]["mean"], np.zeros(4))
    np.testing.assert_array_equal(v["batch_stats"]["var"], np.ones(4))
    stats = as_tuple(v["batch_stats"])
    clipped = set()
    for i, x in enumerate(BATCHES):
        y, mutated = module.apply(v, x, mutable=["batch_stats"])
        want, stats, r, d = renorm_reference(x, stats, SCALE, BIAS, warmup=2)
        np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)
        for got, ref in zip(as_tuple(mutated["batch_stats"]), stats):
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        if i < 2:
            assert np.all(r == 1) and np.all(d == 0)
        clipped |= {("r_max", f) for f in np.flatnonzero(r == R_MAX)}
        clipped |= {("1/r_max", f) for f in np.flatnonzero(r == 1 / R_MAX)}
        clipped |= {("d_max", f) for f in np.flatnonzero(np.abs(d) == D_MAX)}
        v = {**v, "batch_stats": mutated["batch_stats"]}
        # Evaluation mode: the running statistics, no batch dependence, nothing written.
        x_eval = BATCHES[(i + 1) % len(BATCHES)]
        y_eval = module.apply(v, x_eval)
        want_eval = renorm_eval_reference(x_eval, stats, SCALE, BIAS)
        np.testing.assert_allclose(y_eval, want_eval, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(module.apply(v, x_eval[:1]), y_eval[:1], rtol=1e-6)
    assert {("r_max", 1), ("1/r_max", 2), ("d_max", 3)} <= clipped
    assert int(v["batch_stats"]["steps"]) == len(BATCHES)


def test_warm_up_is_plain_batch_norm():
    """Before `warmup` passes the output does not depend on the running statistics; after, it
    does (through r and d)."""
    module, v = renorm_module(warmup=1)
    other = {**v["batch_stats"], "mean": jnp.full(4, 3.0), "var": jnp.full(4, 0.2)}
    x = BATCHES[1]
    y, _ = module.apply(v, x, mutable=["batch_stats"])
    y_other, _ = module.apply({**v, "batch_stats": other}, x, mutable=["batch_stats"])
    np.testing.assert_allclose(y, y_other, rtol=1e-6)
    xd = np.float64(x)
    plain = (xd - xd.mean(0)) / np.sqrt(xd.var(0) + EPS) * SCALE + BIAS
    np.testing.assert_allclose(y, plain, rtol=1e-4, atol=1e-4)
    warm = {**other, "steps": jnp.ones((), jnp.int32)}
    y_warm, _ = module.apply({**v, "batch_stats": warm}, x, mutable=["batch_stats"])
    assert not np.allclose(y_warm, plain, rtol=1e-3, atol=1e-3)


def test_the_gradient_treats_r_and_d_as_constants():
    """d/dx sum(w * y) against float64 central differences of the same function with r and d
    frozen at their values. Differentiating through r and d would give the gradient of the
    evaluation-mode normalization, (x - mu) / sigma, instead."""
    module, v = renorm_module(warmup=0)
    stats = {**v["batch_stats"], "mean": jnp.full(4, 0.3), "var": jnp.full(4, 1.7)}
    v = {**v, "batch_stats": stats}
    x = (RNG.normal(size=(8, 4)) * 2.0 + 0.5).astype(np.float32)
    w = RNG.normal(size=(8, 4))
    grad = jax.grad(lambda x: jnp.sum(w * module.apply(v, x, mutable=["batch_stats"])[0]))(x)
    _, _, r, d = renorm_reference(x, as_tuple(stats), SCALE, BIAS, warmup=0)
    assert np.all((r > 1 / R_MAX) & (r < R_MAX) & (np.abs(d) < D_MAX) & (r != 1))

    def frozen(x):
        mu_b, sigma_b = x.mean(0), np.sqrt(x.var(0) + EPS)
        return np.sum(w * (((x - mu_b) / sigma_b * r + d) * SCALE + BIAS))

    x64, h, want = np.float64(x), 1e-6, np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        step = np.zeros(x.shape)
        step[idx] = h
        want[idx] = (frozen(x64 + step) - frozen(x64 - step)) / (2 * h)
    np.testing.assert_allclose(grad, want, rtol=1e-3, atol=1e-4)
    through_r_d = w * SCALE / np.sqrt(1.7 + EPS)
    assert not np.allclose(grad, through_r_d, rtol=1e-2, atol=1e-2)


def crossq_config(**overrides):
    c = default_config()
    c.update(batch_renorm=True, target_update="none", adam_b1=0.5, actor_update_period=3)
    c.update(hidden_dims=(8, 8), critic_hidden_dims=(16, 16), batch_renorm_warmup=2, init_alpha=0.3)
    c.update(**overrides)
    validate(c)
    return c


def make_batch(seed):
    rng = np.random.default_rng(seed)
    return Batch(
        obs=rng.normal(size=(B, OBS_DIM)).astype(np.float32),
        action=rng.uniform(-1, 1, (B, ACTION_DIM)).astype(np.float32),
        reward=rng.normal(size=B).astype(np.float32),
        next_obs=(rng.normal(size=(B, OBS_DIM)) + 1.0).astype(np.float32),
        terminated=(rng.uniform(size=B) < 0.25).astype(np.float32),
    )


def trained_state(updates=4):
    """A CrossQ state past its warm-up (2 passes): running statistics away from (0, 1), r and d
    at work."""
    state = create_state(crossq_config(), OBS_DIM, ACTION_DIM)
    for i in range(updates):
        state, _ = update_step(state, make_batch(100 + i))
    return state


def critic_reference(params, stats, obs, action, warmup=2):
    """Q of every critic in training mode in float64, and their updated statistics: BatchRenorm
    on s and on a, then Dense -> relu -> BatchRenorm per layer, then the output layer."""
    f64 = lambda t: jax.tree.map(lambda a: np.asarray(a, np.float64), t)  # noqa: E731
    params, stats = f64(params["VmapCritic_0"]), f64(stats["VmapCritic_0"])
    qs, new_stats = [], []
    for n in range(params["Dense_0"]["kernel"].shape[0]):
        mlp, st = (jax.tree.map(lambda a, n=n: a[n], t["MLP_0"]) for t in (params, stats))
        updated = {}
        h = [renorm_layer(x, i, mlp, st, updated, warmup) for i, x in enumerate((obs, action))]
        h = np.concatenate(h, axis=-1)
        for layer in range(2):
            dense = mlp[f"Dense_{layer}"]
            h = np.maximum(h @ dense["kernel"] + dense["bias"], 0.0)
            h = renorm_layer(h, layer + 2, mlp, st, updated, warmup)
        head = jax.tree.map(lambda a, n=n: a[n], params["Dense_0"])
        qs.append((h @ head["kernel"] + head["bias"])[:, 0])
        new_stats.append(updated)
    return np.stack(qs), new_stats


def renorm_layer(x, i, params, stats, updated, warmup):
    name = f"BatchRenorm_{i}"
    p = params[name]
    y, updated[name], _, _ = renorm_reference(
        x, as_tuple(stats[name]), p["scale"], p["bias"], warmup
    )
    return y


def test_the_backup_comes_from_the_next_state_half_of_one_joint_pass():
    """J_Q and its target against float64: both critics run once in training mode on
    [(s, a); (s', a')], the target is r + gamma (1 - terminated) (min_i Q_i(s', a') - alpha
    log pi(a'|s')) from the second half, a' from the actor in evaluation mode; the running
    statistics are updated from the joint batch. Separate passes would normalize differently."""
    state, batch, key = trained_state(), make_batch(7), jax.random.PRNGKey(3)
    assert int(state.critic.batch_stats["VmapCritic_0"]["MLP_0"]["BatchRenorm_0"]["steps"][0]) == 4
    pi = state.actor.apply_fn(variables(state.actor), batch.next_obs)
    next_action, next_log_prob = pi.sample_and_log_prob(seed=key)
    obs = np.concatenate([batch.obs, batch.next_obs])
    action = np.concatenate([batch.action, np.asarray(next_action)])
    q_joint, stats = critic_reference(state.critic.params, state.critic.batch_stats, obs, action)
    q, next_q = q_joint[:, :B], q_joint[:, B:]
    alpha, r, done = float(state.alpha), np.float64(batch.reward), np.float64(batch.terminated)
    y = r + 0.99 * (1 - done) * (next_q.min(0) - alpha * np.float64(next_log_prob))
    want = 0.5 * ((q - y) ** 2).mean(-1).sum()

    loss, info = joint_critic_loss(state.critic.params, state, batch, key)
    np.testing.assert_allclose(loss, want, rtol=1e-4)
    np.testing.assert_allclose(info["target_mean"], y.mean(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(info["q_mean"], q.mean(), rtol=1e-4, atol=1e-5)
    got = info["batch_stats"]["VmapCritic_0"]["MLP_0"]
    for n, critic in enumerate(stats):
        for name, new in critic.items():
            for value, ref in zip(as_tuple(got[name]), new):
                np.testing.assert_allclose(np.asarray(value)[n], ref, rtol=1e-4, atol=1e-6)
    q_alone, _ = critic_reference(
        state.critic.params, state.critic.batch_stats, batch.obs, batch.action
    )
    assert not np.allclose(q_alone, q, rtol=1e-3, atol=1e-3)

    # The gradient does not reach the target half: it is that of the regression on a constant y
    # (through the joint batch's statistics, which both halves share).
    def regression(params):
        q_all, _ = training_pass(state.critic, params, obs, action)
        return 0.5 * jnp.square(q_all[:, :B] - y).mean(-1).sum()

    grad = jax.grad(lambda p: joint_critic_loss(p, state, batch, key)[0])(state.critic.params)
    want_grad = jax.grad(regression)(state.critic.params)
    for g, w in zip(jax.tree.leaves(grad), jax.tree.leaves(want_grad), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


def test_there_is_no_target_critic():
    """No leaf of the state, fresh or updated, holds target parameters: the update has none to
    read. (SAC's state holds a full copy of the critic there.)"""
    for state in (create_state(crossq_config(), OBS_DIM, ACTION_DIM), trained_state(updates=1)):
        assert state.target_critic_params == {}
        paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]]
        assert not any("target_critic" in p for p in paths)
    sac = create_state(crossq_config(batch_renorm=False, target_update="soft"), OBS_DIM, ACTION_DIM)
    assert jax.tree.leaves(sac.target_critic_params)


def test_the_actor_and_temperature_step_every_third_update_and_batch_stats_follow():
    """actor_update_period=3 gates the actor, its running statistics and the temperature; the
    critic's statistics update every update."""
    state = create_state(crossq_config(), OBS_DIM, ACTION_DIM)
    steps = lambda ts: int(ts.batch_stats["MLP_0"]["BatchRenorm_0"]["steps"])  # noqa: E731
    for i in range(1, 7):
        before = state
        state, metrics = update_step(state, make_batch(i))
        actor_step = i % 3 == 0
        assert steps(state.actor) == i // 3
        assert int(state.actor.step) == i // 3 and int(state.temperature.step) == i // 3
        assert np.isnan(metrics["actor_loss"]) != actor_step
        np.testing.assert_allclose(metrics["alpha"], state.alpha, rtol=1e-6)  # every update
        moved = float(state.alpha) != float(before.alpha)
        assert moved == actor_step
    critic_steps = state.critic.batch_stats["VmapCritic_0"]["MLP_0"]["BatchRenorm_2"]["steps"]
    np.testing.assert_array_equal(critic_steps, [6, 6])


def test_validation_needs_no_target_update_with_batch_renorm():
    c = default_config()
    c.batch_renorm = True
    with pytest.raises(ValueError, match=r"config\.target_update='soft'"):
        validate(c)
    c.update(batch_renorm=False, target_update="none")  # SAC bootstrapping from its online critics
    validate(c)
    c.adam_b1 = 1.0
    with pytest.raises(ValueError, match=r"config\.adam_b1=1\.0"):
        validate(c)


def test_load_policy_and_export_act_in_evaluation_mode(tmp_path):
    """A checkpoint whose actor holds running statistics far from the identity: load_policy and
    the exported artifact give select_action's evaluation-mode action (Pendulum bounds +-2), and
    with the statistics at their initial values the action would differ."""
    config = small_config(
        batch_renorm=True, target_update="none", hidden_dims=(8, 8), critic_hidden_dims=(16, 16)
    )
    env, state, run, buffer = fresh_run(config)
    rng = np.random.default_rng(0)
    stats = jax.tree.map(
        lambda s: s + rng.uniform(0.5, 2.0, s.shape).astype(s.dtype) if s.ndim else s + 7,
        state.actor.batch_stats,
    )
    state = state.replace(actor=state.actor.replace(batch_stats=stats))
    run.step = 100
    save(str(tmp_path), config, state, run, env, buffer)

    policy = load_policy(str(tmp_path))
    obs = rng.normal(size=(5, 3)).astype(np.float32)
    expected = 2.0 * np.asarray(select_action(state.actor, obs))
    np.testing.assert_allclose(policy(obs), expected, rtol=1e-6, atol=1e-6)
    out = tmp_path / "policy.jaxexport"
    out.write_bytes(export_policy(policy, platforms=("cpu",)))
    np.testing.assert_allclose(load_exported(str(out))(obs), expected, rtol=1e-5, atol=1e-6)
    initial = state.actor.replace(batch_stats=fresh_run(config)[1].actor.batch_stats)
    assert not np.allclose(expected, 2.0 * np.asarray(select_action(initial, obs)), atol=1e-3)
