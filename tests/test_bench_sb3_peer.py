"""bench/sb3_peer.py: a sac_jax config maps onto Stable-Baselines3's SAC, or is refused by name."""

import importlib
import os

import pytest

from bench import sb3_peer
from bench.sb3_peer import sb3_kwargs
from sac_jax.config import ConfigError


def config(name, **overrides):
    c = importlib.import_module(f"configs.{name}").get_config()
    c.update(overrides)
    return c


def test_a_shipped_config_maps_field_by_field():
    kwargs = sb3_kwargs(config("ant", seed=3))  # fixed temperature 0.2, actor and critics at 1e-3
    assert kwargs == dict(
        learning_rate=1e-3,
        buffer_size=1_000_000,
        learning_starts=10_000,
        batch_size=256,
        tau=0.005,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        n_steps=1,
        ent_coef=0.2,  # a fixed temperature: its learning rate (3e-4) unused
        target_entropy="auto",  # SB3's -dim(A), as target_entropy=None here
        policy_kwargs=dict(net_arch=[256, 256]),
        seed=3,
    )
    lr = dict(actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3)
    kwargs = sb3_kwargs(config("halfcheetah", target_entropy=-4.0, n_step=3, **lr))
    assert kwargs["learning_rate"] == 1e-3 and kwargs["target_entropy"] == -4.0
    assert kwargs["n_steps"] == 3 and kwargs["ent_coef"] == "auto_1.0"


def test_what_sb3_cannot_run_is_refused_by_name():
    with pytest.raises(ConfigError, match="one learning rate .* critic_lr=0.001"):
        sb3_kwargs(config("walker2d"))  # its critics learn at 1e-3, the actor at 3e-4
    with pytest.raises(ConfigError, match="no SB3 equivalent mapped for .*batch_renorm=True"):
        sb3_kwargs(config("variants.crossq"))
    with pytest.raises(ConfigError, match="no SB3 equivalent mapped for backup='mean'"):
        sb3_kwargs(config("hopper", backup="mean"))
    with pytest.raises(ConfigError, match="critic_lr, tau: a sweep; one process"):
        sb3_kwargs(config("hopper", critic_lr=[3e-4, 1e-3], tau=[0.005, 0.01]))
    with pytest.raises(ConfigError, match=r"critic_hidden_dims=\(512, 512\)"):
        sb3_kwargs(config("hopper", critic_hidden_dims=(512, 512)))


class FakeModel:
    """Writes what SB3's save methods write, or fails in the buffer's save as a kill would."""

    def __init__(self, tag, fail=False):
        self.tag, self.fail = tag, fail

    def save(self, path):
        with open(path, "w") as f:
            f.write(self.tag)

    def save_replay_buffer(self, path):
        if self.fail:
            raise KeyboardInterrupt
        with open(path, "w") as f:
            f.write(self.tag)


def test_a_save_cut_short_leaves_the_last_one_whole(tmp_path):
    workdir = str(tmp_path)
    assert sb3_peer.latest_save(workdir) is None
    sb3_peer.save(FakeModel("50k"), workdir)
    with pytest.raises(KeyboardInterrupt):
        sb3_peer.save(FakeModel("100k", fail=True), workdir)
    saved = sb3_peer.latest_save(workdir)
    assert open(os.path.join(saved, "model.zip")).read() == "50k"
    sb3_peer.save(FakeModel("150k"), workdir)
    assert open(os.path.join(sb3_peer.latest_save(workdir), "model.zip")).read() == "150k"
    os.replace(sb3_peer.latest_save(workdir), os.path.join(workdir, sb3_peer.SAVE + ".old"))
    assert sb3_peer.latest_save(workdir).endswith(".old")  # killed between the two renames


def test_only_a_workdir_of_this_script_is_started_over(tmp_path):
    assert not sb3_peer.started_here(str(tmp_path))  # no config.json: not this script's run
    (tmp_path / "config.json").write_text('{"library": "stable-baselines3"}')
    assert sb3_peer.started_here(str(tmp_path))
