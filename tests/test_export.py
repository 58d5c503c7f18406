"""Exported policies: `python -m sac_jax.export` and `sac_jax.load_exported` act as `load_policy`.

Checkpoints are written straight from fresh states (no training): two steps with different actor
weights, and with normalize_obs, statistics far from the identity, so a wrong step, missing
normalization or missing rescaling would each change the actions.
"""

import json
import os
import shutil
import subprocess
import sys

import gymnasium as gym
import jax
import numpy as np
import pytest

from sac_jax import RunningStats, load_exported, load_policy, select_action
from sac_jax.export import export_policy, main
from tests.helpers import REPO, SUBPROCESS_ENV, fresh_run, run_cli, save, small_config

OBS_DIM = 3  # Pendulum-v1


def write_run(workdir: str, normalize_obs: bool, bounds: tuple[float, float] | None = None):
    """Checkpoints at steps 100 and 200 (the second with scaled actor weights)."""
    config = small_config(normalize_obs=normalize_obs)
    env, state, run, buffer = fresh_run(config)
    if bounds is not None:  # what a checkpoint records of its env; the policy must rescale to it
        env.unwrapped.action_space = gym.spaces.Box(*bounds, shape=(1,), dtype=np.float32)
    if normalize_obs:
        mean, var = np.array([1.0, -2.0, 3.0], np.float32), np.array([0.1, 4.0, 9.0], np.float32)
        state = state.replace(obs_stats=RunningStats(np.float32(50.0), mean, var))
    run.step = 100
    save(workdir, config, state, run, env, buffer)
    scaled = jax.tree.map(lambda p: 3.0 * p, state.actor.params)
    run.step = 200
    save(workdir, config, state.replace(actor=state.actor.replace(params=scaled)), run, env, buffer)
    return workdir


def observations(batch: int | None, seed: int = 0) -> np.ndarray:
    shape = (OBS_DIM,) if batch is None else (batch, OBS_DIM)
    return np.random.default_rng(seed).normal(scale=3.0, size=shape).astype(np.float32)


def run_export(*args: str) -> subprocess.CompletedProcess:
    return run_cli("-m", "sac_jax.export", *args, timeout=300)


@pytest.fixture(scope="module", params=[False, True], ids=["raw_obs", "normalize_obs"])
def workdir(request, tmp_path_factory):
    return write_run(str(tmp_path_factory.mktemp("run")), normalize_obs=request.param)


def assert_same_actions(exported, policy):
    for batch in (1, 7, None):
        obs = observations(batch, seed=batch or 0)
        action = exported(obs)
        assert action.dtype == np.float32 and action.shape == policy(obs).shape
        np.testing.assert_allclose(action, policy(obs), rtol=1e-6, atol=1e-6)


def test_cli_exports_the_latest_checkpoint(workdir, tmp_path):
    out = str(tmp_path / "policy.jaxexport")
    result = run_export("--workdir", workdir, "--out", out)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "checkpoint step 200" in result.stdout
    latest, earlier = load_policy(workdir), load_policy(workdir, step=100)
    exported = load_exported(out)
    assert_same_actions(exported, latest)
    assert not np.allclose(exported(observations(7)), earlier(observations(7)), atol=1e-3)

    artifact = jax.export.deserialize(bytearray((tmp_path / "policy.jaxexport").read_bytes()))
    (obs_aval,), (action_aval,) = artifact.in_avals, artifact.out_avals
    assert str(obs_aval.shape) == "(b, 3)" and obs_aval.dtype == np.float32
    assert str(action_aval.shape) == "(b, 1)" and action_aval.dtype == np.float32
    assert set(artifact.platforms) == {"cpu", "cuda"}


def test_python_export_of_an_earlier_step(workdir, tmp_path):
    policy = load_policy(workdir, step=100)
    out = tmp_path / "policy.jaxexport"
    out.write_bytes(export_policy(policy, platforms=("cpu",)))
    exported = load_exported(str(out))
    assert_same_actions(exported, policy)
    obs = observations(7)
    unit = np.asarray(select_action(policy.actor, obs))  # the actor on raw observations
    if policy.config.normalize_obs:  # the statistics are in the artifact
        assert not np.allclose(exported(obs), 2.0 * unit, atol=1e-3)
    else:
        np.testing.assert_allclose(exported(obs), 2.0 * unit, rtol=1e-6, atol=1e-6)


def test_asymmetric_action_bounds(tmp_path):
    workdir = write_run(str(tmp_path / "run"), normalize_obs=False, bounds=(-1.0, 3.0))
    policy = load_policy(workdir)
    out = tmp_path / "policy.jaxexport"
    out.write_bytes(export_policy(policy, platforms=("cpu",)))
    obs = observations(7)
    unit = np.asarray(select_action(policy.actor, obs))
    np.testing.assert_allclose(load_exported(str(out))(obs), 1.0 + 2.0 * unit, rtol=1e-6, atol=1e-6)
    assert_same_actions(load_exported(str(out)), policy)


def test_loader_needs_only_jax(workdir, tmp_path):
    """The loader module, copied alone, runs the artifact without importing flax or sac_jax."""
    out = tmp_path / "policy.jaxexport"
    out.write_bytes(export_policy(load_policy(workdir)))
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(os.path.join(REPO, "sac_jax", "exported.py"), alone / "exported.py")
    script = (
        "import sys\nimport numpy as np\nfrom exported import load_exported\n"
        f"action = load_exported({str(out)!r})(np.zeros({OBS_DIM}, np.float32))\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('flax', 'sac_jax')]\n"
        "print(action.tolist())\n"
    )
    env = {k: v for k, v in SUBPROCESS_ENV.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=alone, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = load_policy(workdir)(np.zeros(OBS_DIM, np.float32))
    np.testing.assert_allclose(json.loads(result.stdout), expected, rtol=1e-6, atol=1e-6)


def test_onnx_export_runs_in_onnxruntime(workdir, tmp_path):
    pytest.importorskip("jax2onnx")
    ort = pytest.importorskip("onnxruntime")
    out = str(tmp_path / "policy.onnx")
    main(["--workdir", workdir, "--out", out, "--format", "onnx"])
    session = ort.InferenceSession(out)
    policy = load_policy(workdir)
    for batch in (1, 7):
        obs = observations(batch, seed=batch)
        (action,) = session.run(["action"], {"obs": obs})
        assert action.dtype == np.float32
        np.testing.assert_allclose(action, policy(obs), rtol=1e-6, atol=1e-6)


def test_bad_step_is_a_clear_error(workdir, tmp_path):
    out = tmp_path / "policy.jaxexport"
    result = run_export("--workdir", workdir, "--step", "7", "--out", str(out))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "error: no checkpoint at step 7" in result.stderr and "[100, 200]" in result.stderr
    assert not out.exists()


def test_missing_checkpoint_or_unknown_platform_is_a_clear_error(tmp_path, capsys):
    out = str(tmp_path / "p.jaxexport")
    for workdir, message in ((tmp_path / "nope", "does not exist"), (tmp_path, "no checkpoints")):
        with pytest.raises(SystemExit) as exit_info:
            main(["--workdir", str(workdir), "--out", out])
        assert exit_info.value.code.startswith("error: ") and message in exit_info.value.code
    with pytest.raises(SystemExit) as exit_info:  # jax would lower for "gpu" only on a GPU
        main(["--workdir", str(tmp_path), "--out", out, "--platforms", "cpu,gpu"])
    assert exit_info.value.code == 2 and "must name platforms of" in capsys.readouterr().err
    assert not os.path.exists(out)
