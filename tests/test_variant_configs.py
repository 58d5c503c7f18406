"""configs/variants (TQC, DroQ, CrossQ): the papers' settings, one compiled update per run, exact resume
with each variant's state, and learning Pendulum-v1 in a short run."""

import importlib.util
import os

import numpy as np
import pytest

from sac_jax import make_update_steps, validate
from sac_jax.loop import train, vmap_seeds
from sac_jax.placement import placement
from sac_jax.writers import read_rows
from tests.helpers import REPO, assert_trees_identical, restore
from tests.tiny import TINY_RUN

NAMES = ("tqc", "droq", "crossq")


def variant(name, **overrides):
    path = os.path.join(REPO, "configs", "variants", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config()
    config.update(overrides)
    validate(config)
    return config, module.__doc__


def test_the_configs_hold_the_papers_settings():
    tqc, doc = variant("tqc")
    assert "Truncated Mixture of" in doc and "Kuznetsov et al. 2020" in doc
    assert (tqc.backup, tqc.num_critics, tqc.num_quantiles) == ("tqc", 5, 25)
    assert tqc.top_quantiles_to_drop == 2
    assert (tuple(tqc.hidden_dims), tuple(tqc.critic_hidden_dims)) == ((256, 256), (512, 512, 512))
    droq, doc = variant("droq")
    assert "Dropout Q-Functions" in doc and "Hiraoka et al. 2022" in doc
    assert (droq.critic_dropout, droq.critic_layer_norm, droq.num_critics) == (0.01, True, 2)
    assert (droq.backup, droq.redq_subset) == ("redq", 2)  # min of both targets, actor on the mean
    assert (droq.num_critic_updates, droq.actor_update_period) == (20, 20)
    crossq, doc = variant("crossq")
    assert "Batch Normalization in Deep" in doc and "Bhatt et al. 2024" in doc and "2048" in doc
    assert (crossq.batch_renorm, crossq.batch_renorm_warmup, crossq.target_update) == (
        True,
        100_000,
        "none",
    )
    assert (crossq.actor_lr, crossq.critic_lr, crossq.alpha_lr, crossq.adam_b1) == (1e-3,) * 3 + (
        0.5,
    )
    assert (crossq.actor_update_period, crossq.num_critic_updates, crossq.backup) == (3, 1, "min")
    assert (tuple(crossq.hidden_dims), tuple(crossq.critic_hidden_dims)) == ((256, 256), (512, 512))
    assert variant("tqc", env_id="Hopper-v5")[0].env_id == "Hopper-v5"


def shrunk(name, **overrides):
    """The variant's config at test sizes on Pendulum: checkpoints at 150 (mid-episode) and 300.
    TQC keeps 5 critics of 25 quantiles, DroQ its 20 updates per env step, CrossQ its running
    statistics, renormalizing from the 50th training pass on (both sides of the resume)."""
    small = dict(
        TINY_RUN,
        env_id="Pendulum-v1",
        critic_hidden_dims=None,
        batch_renorm_warmup=50,
        buffer_size=1_000,
        eval_interval=100,
        log_interval=50,
        checkpoint_interval=150,
    )
    return variant(name, **{**small, **overrides})[0]


@pytest.mark.parametrize("name", NAMES)
def test_exact_resume_with_one_compiled_update(name, tmp_path):
    """300 steps straight == 150 steps, stopped mid-episode, resumed to 300: the same state to the
    last bit (dropout masks included, from the restored key; CrossQ's running statistics, carried
    through the resume past their warm-up). A run compiles its update once; the resumed run
    reuses the straight run's compile."""
    config = shrunk(name)
    compiled = lambda steps: vmap_seeds(steps, placement(1, config.batch_size))._cache_size()  # noqa: E731
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    steps = make_update_steps()
    train(config, straight, quiet=True, update_fn=steps)
    assert compiled(steps) == 1
    # Another total_steps is another (static) optimizer schedule: the first half compiles its own.
    train(shrunk(name, total_steps=150), resumed, quiet=True, update_fn=steps)
    train(config, resumed, quiet=True, update_fn=steps)
    assert compiled(steps) == 2
    state = restore(straight, config)[1]
    _, resumed_state, resumed_run, _ = restore(resumed, config)
    assert resumed_run.step == config.total_steps
    assert_trees_identical(state, resumed_state)
    if config.batch_renorm:  # 200 updates, each one training pass of the critics
        stats = state.critic.batch_stats["VmapCritic_0"]["MLP_0"]["BatchRenorm_0"]
        np.testing.assert_array_equal(stats["steps"], [200, 200])


# Pendulum at a few thousand steps, sized for a 2-core CPU: a random policy scores about -1200 to
# -1600, so -800 is only passed by a policy that learned to swing up.
LEARNING = {
    "tqc": dict(
        num_critics=2,
        num_quantiles=5,
        top_quantiles_to_drop=1,
        hidden_dims=(256, 256),
        critic_hidden_dims=None,
        batch_size=256,
        learning_starts=500,
        total_steps=4000,
    ),
    "droq": dict(
        num_critic_updates=10,
        actor_update_period=10,
        hidden_dims=(64, 64),
        batch_size=128,
        learning_starts=500,
        total_steps=2000,
    ),
    "crossq": dict(
        hidden_dims=(64, 64),
        critic_hidden_dims=(256, 256),
        batch_renorm_warmup=1000,
        batch_size=256,
        learning_starts=500,
        total_steps=3000,
    ),
}


@pytest.mark.parametrize("name", NAMES)
def test_learns_pendulum(name, tmp_path):
    budget = dict(env_id="Pendulum-v1", buffer_size=10_000, eval_episodes=5)
    steps = LEARNING[name]["total_steps"]
    config = variant(name, **budget, **LEARNING[name], eval_interval=steps, log_interval=steps)[0]
    (last,) = train(config, str(tmp_path), quiet=True)
    assert [int(r["step"]) for r in read_rows(str(tmp_path), "eval.csv")] == [steps]
    assert np.isfinite(last["return_mean"]) and last["return_mean"] > -800, last
