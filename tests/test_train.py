"""End to end: train.py's outputs, and learning on Pendulum-v1 in a CI-sized budget."""

import csv
import glob
import json
import os

import matplotlib.image
import numpy as np
import pytest

from sac_jax import loop
from sac_jax.loop import train


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_pendulum_learns_and_writes_outputs(tiny_config, tmp_path):
    """A random policy scores about -1200 to -1600 on Pendulum; SAC reaches about -200 by 5k steps."""
    c = tiny_config
    c.hidden_dims = (256, 256)  # SAC's own sizes: smaller nets learn Pendulum noticeably slower
    c.batch_size = 256
    c.learning_starts = 1000
    c.total_steps = 5000
    c.eval_interval = 2500
    c.eval_episodes = 5
    c.log_interval = 1000
    workdir = str(tmp_path / "run")
    (last,) = train(c, workdir, quiet=True)

    evals = read_csv(os.path.join(workdir, "eval.csv"))
    assert [int(r["step"]) for r in evals] == [2500, 5000]
    trains = read_csv(os.path.join(workdir, "train.csv"))
    assert [int(r["step"]) for r in trains] == [1000, 2000, 3000, 4000, 5000]
    assert {"critic_loss", "actor_loss", "alpha", "entropy", "q_mean", "steps_per_sec"} <= set(
        trains[0]
    )
    assert glob.glob(os.path.join(workdir, "events.out.tfevents.*"))
    curves = os.path.join(workdir, "curves.png")  # redrawn after each evaluation, the last too
    assert matplotlib.image.imread(curves).shape[0] > 100
    assert os.path.getmtime(curves) >= os.path.getmtime(os.path.join(workdir, "eval.csv"))
    with open(os.path.join(workdir, "config.json")) as f:
        assert json.load(f)["total_steps"] == 5000

    assert last["return_mean"] > -600, last


def test_a_failed_plot_warns_and_training_goes_on(tiny_config, tmp_path, monkeypatch):
    """curves.png is drawn after every evaluation; an error there must not end the run."""

    def broken(run_dir):
        raise RuntimeError("no font")

    monkeypatch.setattr(loop, "draw_run", broken)
    with pytest.warns(UserWarning, match="curves.png .*no font.*training goes on"):
        (last,) = train(tiny_config, str(tmp_path), quiet=True)
    assert np.isfinite(last["return_mean"])
    assert [int(r["step"]) for r in read_csv(tmp_path / "eval.csv")] == [tiny_config.total_steps]
