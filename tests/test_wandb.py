"""Weights & Biases logging: one offline W&B run per trial, continued on resume; off by default.

The runs are read back from the `.wandb` files W&B writes offline (a LevelDB-style log of protobuf
records; no network, no W&B server).
"""

import csv
import glob
import json
import os
import struct
import sys
import types

import pytest

from sac_jax.checkpointing import Checkpointer
from sac_jax.config import ConfigError
from sac_jax.loop import train
from sac_jax.sweep import expand_trials
from sac_jax.wandb_log import open_runs
from tests.helpers import SUBPROCESS_ENV, small_config, train_in_two_processes, wait_for

BLOCK, HEADER = 32768, 7  # the log's block size and record header (checksum, length, type)
FULL, LAST = 1, 4  # record types that complete a protobuf record


def records(path: str):
    """The protobuf records of a `.wandb` file."""
    from wandb.proto import wandb_internal_pb2

    data = open(path, "rb").read()
    assert data[:4] == b":W&B", path
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # a block's tail too short for a header is padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + HEADER])
        if kind == 0:
            break
        pending += data[pos + HEADER : pos + HEADER + length]
        pos += HEADER + length
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            pending = b""
            yield record


def read_run(path: str) -> dict | None:
    """id, name, group, config and history ({step: {key: value}}) of one offline run; None until
    its file is complete (has the exit record)."""
    run, history, done = None, {}, False
    for r in records(path):
        kind = r.WhichOneof("record_type")
        done |= kind == "exit"
        if kind == "run":
            run = r.run
        elif kind == "history":
            row = {
                "/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in r.history.item
            }
            history[r.history.step.num] = {k: v for k, v in row.items() if not k.startswith("_")}
    if not done:
        return None
    config = {i.key: json.loads(i.value_json) for i in run.config.update}
    return dict(
        id=run.run_id,
        project=run.project,
        name=run.display_name,
        group=run.run_group,
        config=config,
        history=history,
    )


def offline_runs(workdir: str) -> list[dict]:
    """Every offline run W&B wrote into the workdir, in the order they started. W&B's service may
    finish writing a run's file just after `finish()` returns: this waits for it."""
    paths = sorted(glob.glob(os.path.join(workdir, "wandb", "offline-run-*", "*.wandb")))
    return [wait_for(lambda path=path: read_run(path)) for path in paths]


def read_csv(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def offline_wandb(mp: pytest.MonkeyPatch, home) -> None:
    """W&B offline, with its settings, caches and logs in `home`, never the user's; the working
    directory too, so nothing strays into the repository."""
    mp.setenv("WANDB_MODE", "offline")
    for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        mp.setenv(var, str(home))
    mp.chdir(home)


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    offline_wandb(monkeypatch, home)


@pytest.fixture(scope="module")
def resumed_two_seeds(tmp_path_factory):
    """Seeds 3 and 4 with W&B on: 150 steps, then resumed to 300 in the same workdir. Returns the
    workdir, the offline runs after the first part, and the checkpointed run ids."""
    mp = pytest.MonkeyPatch()
    offline_wandb(mp, tmp_path_factory.mktemp("wandb_home"))
    workdir = str(tmp_path_factory.mktemp("wandb_run"))
    config = dict(seed=3, num_seeds=2, wandb_project="sac-test")
    try:
        train(small_config(total_steps=150, **config), workdir, quiet=True)
        first = offline_runs(workdir)
        train(small_config(**config), workdir, quiet=True)
    finally:
        mp.undo()
    saved = {}
    for seed in (3, 4):
        with Checkpointer(os.path.join(workdir, f"seed{seed}")) as ckpt:
            saved[seed] = ckpt.metadata(150)[1]["counters"]["wandb_run_id"]
    return workdir, first, saved


def test_one_run_per_seed_in_one_group_with_its_config(resumed_two_seeds):
    workdir, first, _ = resumed_two_seeds
    assert len(first) == 2
    experiment = os.path.basename(workdir)
    by_seed = {run["config"]["seed"]: run for run in first}
    assert sorted(by_seed) == [3, 4]
    assert len({run["id"] for run in first}) == 2
    for seed, run in by_seed.items():
        assert run["project"] == "sac-test"
        assert run["group"] == experiment
        assert run["name"] == f"{experiment}/seed{seed}"
        assert run["config"]["num_seeds"] == 1  # the trial's own config
        assert run["config"]["total_steps"] == 150
        assert run["config"]["hidden_dims"] == [32, 32]


def test_metrics_are_the_csv_rows_at_the_env_step(resumed_two_seeds):
    workdir, _, _ = resumed_two_seeds
    runs = offline_runs(workdir)
    history = {}  # (seed, step) -> W&B row, over both parts of the run
    for run in runs:
        for step, row in run["history"].items():
            history.setdefault((run["config"]["seed"], step), {}).update(row)
    for group, name in (("train", "train.csv"), ("eval", "eval.csv")):
        rows = read_csv(os.path.join(workdir, name))
        assert rows
        for row in rows:
            logged = history[(int(row["seed"]), int(row["step"]))]
            for key, value in row.items():
                if key not in ("step", "seed") and value != "":
                    assert logged[f"{group}/{key}"] == pytest.approx(float(value)), (row, key)
    steps = {step for _, step in history}
    assert steps == {
        50,
        100,
        150,
        200,
        250,
        300,
    }  # log_interval 50; evaluations at 100, 150, 200, 300


def test_resume_continues_the_same_wandb_run(resumed_two_seeds):
    workdir, first, saved = resumed_two_seeds
    runs = offline_runs(workdir)
    assert len(runs) == 4
    resumed = [run for run in runs if run["config"]["total_steps"] == 300]
    assert len(resumed) == 2
    ids = {run["config"]["seed"]: run["id"] for run in first}
    assert ids == saved  # the checkpoints hold the run ids
    for run in resumed:
        assert run["id"] == ids[run["config"]["seed"]]
        assert min(run["history"]) > 150  # the resumed run logs after its checkpoint only


def test_two_processes_each_log_their_own_seed(tmp_path):
    """train.py --distributed: process p opens the W&B run of seed 3 + p only, and each run holds
    its seed's eval rows, which that process wrote to WORKDIR/processP/eval.csv."""
    home, workdir = tmp_path / "home", str(tmp_path / "hosts")
    env = {**SUBPROCESS_ENV, "WANDB_MODE": "offline"}
    env.update({v: str(home) for v in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR")})
    train_in_two_processes(tmp_path, workdir, 150, env, wandb_project="sac-test")
    runs = offline_runs(workdir)
    assert len(runs) == 2 and len({run["id"] for run in runs}) == 2
    runs = {run["config"]["seed"]: run for run in runs}
    assert sorted(runs) == [3, 4]
    for p, seed in enumerate((3, 4)):
        evals = read_csv(os.path.join(workdir, f"process{p}", "eval.csv"))
        assert {row["seed"] for row in evals} == {str(seed)}
        logged = runs[seed]["history"]
        for row in evals:
            want = float(row["return_mean"])
            assert logged[int(row["step"])]["eval/return_mean"] == pytest.approx(want)


def test_off_by_default_imports_nothing_and_a_resume_may_turn_it_on(tmp_path, monkeypatch):
    workdir = str(tmp_path / "run")
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "wandb", None)  # any `import wandb` now fails
        train(small_config(total_steps=100, checkpoint_interval=100), workdir, quiet=True)
    assert os.path.exists(os.path.join(workdir, "eval.csv"))
    assert not glob.glob(str(tmp_path / "**" / "wandb"), recursive=True)

    train(small_config(total_steps=150, wandb_project="sac-test"), workdir, quiet=True)
    (run,) = offline_runs(workdir)
    assert sorted(run["history"]) == [150]
    with Checkpointer(workdir) as ckpt:
        assert ckpt.metadata(150)[1]["counters"]["wandb_run_id"] == run["id"]


def test_missing_wandb_is_a_config_error_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)
    workdir = str(tmp_path / "run")
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[wandb\]"'):
        train(small_config(wandb_project="sac-test"), workdir, quiet=True)
    assert not os.path.exists(workdir)


def test_each_sweep_point_is_a_group(tmp_path):
    config = small_config(num_seeds=2, tau=[0.005, 0.01], wandb_project="sac-test")
    trials = expand_trials(config)
    loops = [types.SimpleNamespace(wandb_run_id=None) for _ in trials]
    with open_runs(config, str(tmp_path / "sweep"), trials, loops) as runs:
        for trial in trials:
            runs.log(trial, 1, {"train/x": trial.values["tau"]})
    logged = {run["name"]: run for run in offline_runs(str(tmp_path / "sweep"))}
    assert len(logged) == 4
    assert [loop.wandb_run_id for loop in loops] == [
        logged[f"sweep/{t.name}"]["id"] for t in trials
    ]
    for trial in trials:
        run = logged[f"sweep/{trial.name}"]
        assert run["group"] == f"sweep/tau={trial.values['tau']}"
        assert run["config"]["tau"] == trial.values["tau"] and run["config"]["seed"] == trial.seed
        assert run["history"] == {1: {"train/x": trial.values["tau"]}}
