"""Every config field, given a wrong type, an out-of-range value and a list where one value is
expected, on the command line: a clear error naming the field, exit status non-zero, no
traceback, and nothing written to the workdir.

All cases run through `train.py`'s own flag parsing and `main`, in one Python process (a
process per case would cost minutes of JAX start-up)."""

import json
import os
import textwrap

from sac_jax.config import SWEEPABLE, default_config
from tests.helpers import run_cli

# Values that are the right type but out of range, per field (the rest are found by type).
OUT_OF_RANGE = {
    "seed": "-1",
    "bias_episodes": "-1",
    "learning_starts": "0",
    "gamma": "1.5",
    "tau": "0",
    "target_entropy": "[]",  # any number is a valid target entropy; an empty sweep is not
    "log_std_min": "3.0",  # >= log_std_max
    "log_std_max": "-6.0",  # <= log_std_min
    "max_grad_norm": "-1",
    "hidden_dims": "(0,)",
    "critic_hidden_dims": "(0,)",
    "batch_renorm_warmup": "-1",
    "adam_b1": "1.0",
    "env_id": "NoSuchEnv-v0",
    "num_critics": "0",
    "redq_subset": "0",
    "top_quantiles_to_drop": "-1",
    "critic_dropout": "1.0",
}


def bad_values(field: str, default) -> list[str]:
    """(wrong type, out of range, a list where a number is expected) for one field."""
    if field in SWEEPABLE:  # lists are sweeps here: a list with a bad value instead
        return ["abc", OUT_OF_RANGE.get(field, "-1"), '[0.1,"a"]']
    if field.startswith("wandb_"):  # optional names: any text is a string, so bad names only
        return ["", "team/project", "run#1"]
    if field in ("hidden_dims", "critic_hidden_dims"):
        return ["abc", OUT_OF_RANGE[field], "[1,[2]]"]
    if isinstance(default, bool):
        return ["maybe", "2", "[1]"]
    if isinstance(default, int):
        return ["abc", OUT_OF_RANGE.get(field, "0"), "[1,2]"]
    if isinstance(default, str):
        return ["5", OUT_OF_RANGE.get(field, "nonsense"), "[1]"]
    return ["abc", OUT_OF_RANGE.get(field, "-1"), "[1,2]"]  # floats and optional floats


HARNESS = textwrap.dedent("""
    import contextlib, io, json, sys, traceback
    sys.argv = ["train.py"]
    import train
    from absl import flags

    results = []
    for field, value, workdir in json.loads(sys.stdin.read()):
        err = io.StringIO()
        code, tb = 0, False
        with contextlib.redirect_stderr(err):
            try:
                flags.FLAGS.unparse_flags()
                for name in [n for n in flags.FLAGS if n.startswith("config.")]:
                    delattr(flags.FLAGS, name)  # each case registers its override anew
                sys.argv = ["train.py", "--config", "configs/pendulum.py", "--workdir", workdir,
                            f"--config.{field}={value}"]  # config_flags reads overrides here
                if field != "total_steps":  # a case that wrongly passes trains 1 step, not 20k
                    sys.argv.append("--config.total_steps=1")
                flags.FLAGS(sys.argv)
                train.main([])
            except flags.Error as e:  # what absl prints before exiting on a bad flag
                code, message = 1, f"FATAL Flags parsing error: {e}"
                print(message, file=sys.stderr)
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
                if not isinstance(e.code, int):
                    print(e.code, file=sys.stderr)
            except Exception:
                code, tb = 1, True
                traceback.print_exc()
        results.append(dict(field=field, value=value, code=code, tb=tb, err=err.getvalue()))
    print(json.dumps(results))
""")


def test_every_field_rejects_bad_values_clearly(tmp_path):
    cases = []
    for field, default in default_config().items():
        for i, value in enumerate(bad_values(field, default)):
            cases.append((field, value, str(tmp_path / f"{field}_{i}")))
    out = run_cli("-c", HARNESS, input=json.dumps(cases))
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(results) == len(cases) == 3 * len(default_config())
    failures = [
        r
        for r in results
        if r["code"] == 0 or r["tb"] or r["field"] not in r["err"] or "Traceback" in r["err"]
    ]
    assert not failures, "\n".join(
        f"{r['field']}={r['value']}: {r['err'][-300:]}" for r in failures
    )
    assert not any(os.path.exists(workdir) for _, _, workdir in cases)
