"""`python -m bench.variants`: which configs it times, how it reports them, and the doc section it
rewrites. No timing is asserted."""

import pytest

from bench import variants
from sac_jax.config import validate
from tests.tiny import tiny_config


def test_the_rows_are_sac_and_the_shipped_variants_with_crossq_at_four_widths():
    configs = variants.variant_configs()
    assert list(configs) == [
        "SAC",
        "TQC",
        "DroQ",
        "DroQ, no dropout",
        "CrossQ-256",
        "CrossQ-512",
        "CrossQ-1024",
        "CrossQ-2048",
    ]
    for config in configs.values():
        validate(config)
    assert configs["DroQ"].num_critic_updates == 20 and configs["SAC"].num_critic_updates == 1
    assert (
        configs["DroQ"].critic_dropout == 0.01 and configs["DroQ, no dropout"].critic_dropout == 0
    )
    widths = [configs[f"CrossQ-{w}"].critic_hidden_dims for w in (256, 512, 1024, 2048)]
    assert widths == [(256, 256), (512, 512), (1024, 1024), (2048, 2048)]
    assert configs["CrossQ-512"].batch_renorm and configs["CrossQ-512"].target_update == "none"
    assert variants.critics(configs["TQC"]) == "5 x 512x512x512, 25 quantiles"
    assert variants.critics(configs["SAC"]) == "2 x 256x256"


def test_each_round_times_every_row_and_divides_by_that_rounds_sac(monkeypatch):
    sac = tiny_config(hidden_dims=(8, 8))
    crossq = tiny_config(hidden_dims=(8, 8), batch_renorm=True, target_update="none")
    crossq.num_critic_updates = 2
    monkeypatch.setattr(variants, "variant_configs", lambda: {"SAC": sac, "CrossQ-8": crossq})
    rows = variants.measure("Pendulum-v1", rounds=3, seconds=0.01)
    assert [r["variant"] for r in rows] == ["SAC", "CrossQ-8"]
    assert rows[0]["ratio"] == [1.0, 1.0, 1.0]
    assert rows[1]["updates"] == 2 and len(rows[1]["ms"]) == 3
    assert rows[1]["ratio"] == pytest.approx([c / s for c, s in zip(rows[1]["ms"], rows[0]["ms"])])


def test_the_table_gives_medians_and_ranges():
    rows = [
        dict(variant="SAC", critics="2 x 256x256", updates=1, ms=[5.0, 6.0, 9.0], ratio=[1.0] * 3),
        dict(variant="X", critics="2 x 8x8", updates=2, ms=[10.0, 18.0, 20.0], ratio=[2, 3, 2.2]),
    ]
    text = variants.table(rows, "Walker2d-v5", 3, 2.0)
    assert "`python -m bench.variants --env Walker2d-v5 --rounds 3 --seconds 2`" in text
    assert "| SAC | 2 x 256x256 | 1 | 6.0 | 1.00 (1.00-1.00) |" in text
    assert "| X | 2 x 8x8 | 2 | 18.0 | 2.20 (2.00-3.00) |" in text
