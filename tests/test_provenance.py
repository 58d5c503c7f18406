"""launches.jsonl: each start and resume of a run records its code, versions and machine."""

import importlib.metadata
import json
import os
import subprocess

import jax

from sac_jax import loop, provenance, tables
from tests.helpers import REPO
from tests.tiny import tiny_config


def test_each_start_and_resume_appends_a_launch(tmp_path):
    workdir = str(tmp_path / "run")
    loop.train(tiny_config(total_steps=150), workdir, quiet=True)
    loop.train(tiny_config(total_steps=300), workdir, quiet=True)
    launches = provenance.read_launches(workdir)
    assert [x["step"] for x in launches] == [0, 150]
    for x in launches:
        assert x["versions"]["jax"] == jax.__version__
        assert x["versions"]["gymnasium"] == importlib.metadata.version("gymnasium")
        assert x["devices"] == ["cpu"] and x["processes"] == 1 and x["cpu_count"] == os.cpu_count()
        assert x["cpu"] and x["time"].endswith("+00:00")
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:  # a git checkout: the commit sac_jax was imported from
        assert launches[0]["commit"] == head.stdout.strip()
    else:
        assert launches[0]["commit"] is None


def test_the_runs_table_names_every_commit_and_machine_in_order(tmp_path):
    run = tmp_path / "run"
    os.makedirs(run)
    base = {"dirty": False, "cpu_count": 2, "devices": ["cpu"]}
    launches = [
        {**base, "commit": "a" * 40, "cpu": "AMD EPYC"},
        {**base, "commit": "b" * 40, "cpu": "Intel Xeon", "dirty": True},
        {**base, "commit": "a" * 40, "cpu": "AMD EPYC", "devices": ["NVIDIA H200"]},
    ]
    (run / "launches.jsonl").write_text("".join(json.dumps(x) + "\n" for x in launches))
    commits, machines = tables.provenance(str(run))
    assert commits == "aaaaaaaaaaaa, bbbbbbbbbbbb+changes"
    assert machines == "AMD EPYC x2; Intel Xeon x2; AMD EPYC x2 + NVIDIA H200"
    assert tables.provenance(str(tmp_path / "older_run")) == ("-", "-")
