"""The published SAC results: the anchor curves keep their shape and numbers, and the
benchmark's reference points come from them."""

import csv

from sac_jax import references

ANCHORS = references.ANCHORS_CSV
# Mean return near 300k steps, as reported by each source (checked when the file was made).
KNOWN_300K = {
    "simbav2_crossq_sac": {
        "HalfCheetah": 8593,
        "Hopper": 2160,
        "Walker2d": 2470,
        "Ant": 3532,
        "Humanoid": 3015,
    },
    "jaxrl": {"HalfCheetah": 8651, "Hopper": 2849, "Walker2d": 3185, "Ant": 1786, "Humanoid": 2739},
    "tianshou": {
        "HalfCheetah": 9059,
        "Hopper": 3388,
        "Walker2d": 3387,
        "Ant": 3561,
        "Humanoid": 2045,
    },
}


def test_published_sac_anchors_are_tidy_and_match_the_known_numbers():
    with open(ANCHORS, newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == [
            "source",
            "env",
            "env_version",
            "step",
            "return_mean",
            "return_std",
            "seeds",
        ]
        rows = list(reader)
    curves = {}
    for r in rows:
        curves.setdefault((r["source"], r["env"]), []).append(
            (
                int(r["step"]),
                float(r["return_mean"]),
                float(r["return_std"]),
                int(r["seeds"]),
                r["env_version"],
            )
        )
    assert set(curves) == {(s, e) for s in KNOWN_300K for e in KNOWN_300K[s]}
    for (source, env), curve in curves.items():
        steps = [c[0] for c in curve]
        assert steps == sorted(set(steps)) and 0 <= steps[0] and steps[-1] <= 1_000_000
        assert steps[-1] >= 999_000 and len(steps) > 50, (source, env)
        assert all(c[2] >= 0 and c[3] == 10 for c in curve)
        assert len({c[4] for c in curve}) == 1
        step, mean = min(((c[0], c[1]) for c in curve), key=lambda sm: abs(sm[0] - 300_000))
        assert abs(step - 300_000) <= 20 and abs(mean - KNOWN_300K[source][env]) <= 1, (
            source,
            env,
            mean,
        )


def test_reference_points_are_the_curves_at_the_budgets():
    points = {(r.label, r.step): r.value for r in references.references("Humanoid-v5")}
    assert len(points) == 7  # three curves at 300k and 1M, and CleanRL's table at 1M
    assert (
        points[("SAC in CleanRL, v4, q lr 1e-3, 3 seeds, training episodes", 1_000_000)] == 4996.29
    )
    crossq = references.SOURCES["simbav2_crossq_sac"]
    assert (
        abs(points[(crossq, 300_000)] - 3015) <= 1 and abs(points[(crossq, 1_000_000)] - 4826) <= 1
    )
    tianshou = references.SOURCES["tianshou"]
    assert abs(points[(tianshou, 1_000_000)] - 5416) <= 1
    curves = references.anchor_curves("Walker2d-v5")
    assert set(curves) == set(references.SOURCES.values())
    assert all(c.seeds == 10 and len(c.steps) == len(c.mean) == len(c.std) for c in curves.values())


def test_tabled_results_join_the_curves_of_their_task_only():
    cleanrl = {
        env: [r for r in references.references(f"{env}-v5") if "CleanRL" in r.label]
        for env in ("HalfCheetah", "Walker2d", "Hopper", "Ant")
    }
    assert [(r.step, r.value) for r in cleanrl["Walker2d"]] == [(1_000_000, 3591.45)]
    assert [r.value for r in cleanrl["HalfCheetah"]] == [9634.89]
    assert [r.value for r in cleanrl["Hopper"]] == [2310.46]
    assert cleanrl["Ant"] == []  # CleanRL's table has no Ant
