"""Bad input fails early, naming the field and what is allowed."""

import pytest

from sac_jax import validate
from sac_jax.envs import make_env
from sac_jax.loop import train
from tests.helpers import run_cli


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("batch_size", 0, "positive integer"),
        ("buffer_size", -5, "positive integer"),
        ("total_steps", 0, "positive integer"),
        ("eval_episodes", 0, "positive integer"),
        ("num_critics", 0, "positive integer"),
        ("tau", 0.0, "(0, 1]"),
        ("tau", 1.5, "(0, 1]"),
        ("gamma", 1.0, "[0, 1)"),
        ("gamma", -0.1, "[0, 1)"),
        ("learning_starts", 0, ">= 1"),
        ("actor_lr", 0.0, "> 0"),
        ("hidden_dims", (256, 0), "positive widths"),
        ("activation", "sigmoidish", "must be one of"),
        ("log_std_min", 3.0, "< log_std_max"),
    ],
)
def test_bad_values_name_the_field(tiny_config, field, value, message):
    tiny_config[field] = value
    with pytest.raises(ValueError, match=f"config.{field}=") as err:
        validate(tiny_config)
    assert message in str(err.value)


def test_batch_larger_than_buffer(tiny_config):
    tiny_config.batch_size, tiny_config.buffer_size = 512, 256
    with pytest.raises(ValueError, match=r"config.batch_size=512 .* <= buffer_size \(256\)"):
        validate(tiny_config)


def test_a_one_row_buffer_is_refused(tiny_config):
    tiny_config.batch_size, tiny_config.buffer_size = 1, 1
    with pytest.raises(ValueError, match=r"config.buffer_size=1 .* >= 2"):
        validate(tiny_config)


@pytest.mark.parametrize("trials", [dict(num_seeds=2), dict(critic_lr=[3e-4, 1e-3])])
def test_several_trials_keep_two_checkpoints(tiny_config, trials):
    """Resuming after a stop between two trials' saves needs each trial's checkpoint before."""
    tiny_config.update(keep_checkpoints=1)
    validate(tiny_config)  # one trial: its latest checkpoint is enough
    tiny_config.update(trials)
    with pytest.raises(ValueError, match=r"config.keep_checkpoints=1 .* several trials"):
        validate(tiny_config)


def test_unknown_field_in_config_file(tiny_config):
    tiny_config.lr = 1e-3
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['lr'\]"):
        validate(tiny_config)


def test_unknown_env_id():
    with pytest.raises(ValueError, match="config.env_id='NoSuchEnv-v0' is not a registered"):
        make_env("NoSuchEnv-v0", seed=0)


def test_discrete_action_space_is_refused():
    with pytest.raises(ValueError, match="continuous Box action space"):
        make_env("CartPole-v1", seed=0)


def test_train_validates_before_creating_anything(tiny_config, tmp_path):
    tiny_config.tau = 2.0
    with pytest.raises(ValueError, match="config.tau"):
        train(tiny_config, str(tmp_path / "run"), quiet=True)
    assert not (tmp_path / "run").exists()


def test_cli_rejects_unknown_override(tmp_path):
    result = run_cli(
        "train.py",
        "--config",
        "configs/pendulum.py",
        "--workdir",
        str(tmp_path),
        "--config.no_such_field=1",
        timeout=120,
    )
    assert result.returncode != 0
    assert "no_such_field" in result.stderr


def test_cli_bad_value_is_one_clear_line(tmp_path):
    result = run_cli(
        "train.py",
        "--config",
        "configs/pendulum.py",
        "--workdir",
        str(tmp_path / "w"),
        "--config.gamma=1.5",
        timeout=120,
    )
    assert result.returncode == 1
    assert "error: config.gamma=1.5 is invalid: must be in [0, 1)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists()
