"""Demo pools: the pooled result recovers the planted treatment effect.

Why the tolerance is what it is
-------------------------------
The generator draws each spine's size per session around the run's baseline with a
log-normal jitter of sd 0.06; ``ubssSum`` grows with size**1.6 (spine pixel count
~ size**0.6 times mean ~ size) plus 5 % log-normal channel noise on signal and
background, so one run's value varies by roughly 10-12 % from session to session.
A run's ratio (mean of 3 treatment sessions / mean of 3 baseline sessions) then has an
sd of about 0.12 * sqrt(2/3) ~ 0.1, which the test checks (``sd`` of the control
ratios in 0.05..0.2). With ~45 runs per map that have both groups, 4 maps per cohort give
~180 runs and a SEM of ~0.0075 per cohort; the treatment/control ratio of the two means
has a standard error ``se_R = R * sqrt((sem_t/m_t)**2 + (sem_c/m_c)**2)`` ~ 0.015. The
test asks for ``|R - factor| <= 4 se_R`` (a 4-sigma band: a false failure about once in
16 000 seeds) and for ``se_R <= 0.05`` (the pool is informative enough for that band to
mean something). Runs of one map share per-session background and dendrite levels, so
the SEM over runs understates the error slightly: over seeds 0-11 the z-score
``(R - factor) / se_R`` had an sd of about 1.2 and a largest magnitude of 2.6, inside the
band. Values are written with 6 decimals, far below that noise.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pymapmanager as pmm
from pymapmanager import pooling as P
from pymapmanager.errors import InvalidParameterError
from pymapmanager.synthetic.pools import DemoPool, make_pool

FACTOR = 1.5
STAT = "ubssSum_int2"


@pytest.fixture(scope="module")
def demo_pool(tmp_path_factory: pytest.TempPathFactory) -> DemoPool:
    root = tmp_path_factory.mktemp("pool")
    return make_pool(root, maps_per_cohort=4, sessions=6, stat=STAT, factor=FACTOR, seed=0)


def cohort_ratio(res: P.PoolResult, group: str) -> tuple[float, float, float, float]:
    """(R, se_R, control mean, control sem) of the treatment/control means in ``group``."""
    s = res.summary.set_index(["cohort", "group"])
    mt, st = s.loc[("treatment", group), ["mean", "sem"]]
    mc, sc = s.loc[("control", group), ["mean", "sem"]]
    r = mt / mc
    return r, r * math.sqrt((st / mt) ** 2 + (sc / mc) ** 2), mc, sc


def test_make_pool_layout(demo_pool: DemoPool) -> None:
    assert [p.name for p in demo_pool.all_maps] == [
        *(f"pool_control_{k:02d}" for k in range(1, 5)),
        *(f"pool_treatment_{k:02d}" for k in range(1, 5)),
    ]
    assert demo_pool.conditions == ("c", "c", "c", "e1", "e2", "e3")
    assert demo_pool.baseline_sessions == (0, 1, 2)
    assert demo_pool.effect.sessions == (3, 4, 5) and demo_pool.effect.factor == FACTOR
    assert demo_pool.groups == ("baseline=c", "treatment=e1,e2,e3")
    maps, warnings = P.load_maps([demo_pool.root])
    assert warnings == [] and len(maps) == 8
    assert {m.map_condition for m in maps.values()} == {"control", "treatment"}
    assert not any((p / "raw").exists() for p in demo_pool.all_maps)  # images off
    assert demo_pool.to_dict()["effect"] == {"stat": STAT, "factor": FACTOR, "sessions": [3, 4, 5]}


def test_pool_recovers_the_planted_effect(demo_pool: DemoPool) -> None:
    maps, _ = P.load_maps([demo_pool.root])
    res = P.pool(maps, STAT, demo_pool.groups, reference="baseline", mode="ratio")
    assert res.cohorts == ("control", "treatment") and res.warnings == ()
    r, se, mc, sc = cohort_ratio(res, "treatment")
    assert se <= 0.05, f"the pool is too noisy to test: se_R = {se:.3f}"
    assert abs(r - FACTOR) <= 4 * se, f"R = {r:.4f} +- {se:.4f}, planted {FACTOR}"
    # the control cohort has no effect: its mean ratio is 1 (up to the small positive
    # bias of a mean of ratios, E[X/Y] ~ 1 + var, ~0.01 here)
    assert abs(mc - 1.0) <= 4 * sc + 0.02
    t = res.tidy
    ctrl = t[(t["cohort"] == "control") & (t["group"] == "treatment")]["value"]
    assert 0.05 <= ctrl.std() <= 0.2  # the per-run noise the tolerance assumes
    assert res.summary.set_index(["cohort", "group"]).loc[("treatment", "treatment"), "n_maps"] == 4

    # the same in percent: 100 * (factor - 1) relative to control's
    pct = P.pool(maps, STAT, demo_pool.groups, reference="baseline", mode="percent")
    s = pct.summary.set_index(["cohort", "group"])
    diff = s.loc[("treatment", "treatment"), "mean"] - s.loc[("control", "treatment"), "mean"]
    se_pct = math.hypot(
        s.loc[("treatment", "treatment"), "sem"], s.loc[("control", "treatment"), "sem"]
    )
    assert abs(diff - 100 * (FACTOR - 1) * mc) <= 4 * se_pct


def test_unaffected_statistic_shows_no_effect(demo_pool: DemoPool) -> None:
    maps, _ = P.load_maps([demo_pool.root])
    res = P.pool(maps, "ubssSum_int1", demo_pool.groups, reference="baseline", mode="ratio")
    r, se, _, _ = cohort_ratio(res, "treatment")
    assert abs(r - 1.0) <= 4 * se
    # and without normalisation, the baselines of both cohorts are alike (same generator)
    raw = P.pool(maps, STAT, demo_pool.groups)
    r0, se0, _, _ = cohort_ratio(raw, "baseline")
    assert abs(r0 - 1.0) <= 4 * se0 + 0.1  # between-map size differences add spread


def test_effect_is_exact_against_the_same_maps_without_it(tmp_path: Path) -> None:
    # same seeds with factor 1 and factor 2: the treatment maps differ only by the factor
    a = make_pool(tmp_path / "a", maps_per_cohort=1, sessions=4, stat=STAT, factor=1.0, seed=3)
    b = make_pool(tmp_path / "b", maps_per_cohort=1, sessions=4, stat=STAT, factor=2.0, seed=3)
    ma = pmm.load_map(a.maps["treatment"][0])
    mb = pmm.load_map(b.maps["treatment"][0])
    va = pmm.map_values(ma, STAT).values
    vb = pmm.map_values(mb, STAT).values
    np.testing.assert_allclose(vb[:, :2], va[:, :2], rtol=0)  # baseline sessions untouched
    np.testing.assert_allclose(vb[:, 2:], 2.0 * va[:, 2:], rtol=1e-6)
    ca = pmm.map_values(pmm.load_map(a.maps["control"][0]), STAT).values
    cb = pmm.map_values(pmm.load_map(b.maps["control"][0]), STAT).values
    np.testing.assert_array_equal(ca, cb)  # control maps untouched
    ra = P.pool([ma], STAT, a.groups, reference="baseline").tidy
    rb = P.pool([mb], STAT, b.groups, reference="baseline").tidy
    ta = ra[ra["group"] == "treatment"]["value"].to_numpy()
    tb = rb[rb["group"] == "treatment"]["value"].to_numpy()
    np.testing.assert_allclose(tb, 2.0 * ta, rtol=1e-6)


def test_make_pool_other_stat_and_conditions(tmp_path: Path) -> None:
    p = make_pool(
        tmp_path, maps_per_cohort=1, sessions=4, stat="sLen3d_int1", factor=0.5, seed=1,
        conditions=["c", "c", "drug", "drug"], cohorts=("saline", "drug"), prefix="x",
    )  # fmt: skip
    assert p.groups == ("baseline=c", "treatment=drug")
    assert [m.name for m in p.all_maps] == ["x_saline_01", "x_drug_01"]
    assert pmm.load_map(p.maps["drug"][0]).map_condition == "drug"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"maps_per_cohort": 0}, "at least one map"),
        ({"sessions": 1}, "at least 2 sessions"),
        ({"cohorts": ("a", "a")}, "two different"),
        ({"conditions": ["c", "c"]}, "need baseline sessions"),
        ({"conditions": ["c"]}, "1 conditions given for 2 sessions"),
    ],
)
def test_make_pool_rejects(tmp_path: Path, kw: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"sessions": 2, **kw}
    with pytest.raises(InvalidParameterError, match=message):
        make_pool(tmp_path, **args)  # type: ignore[arg-type]
