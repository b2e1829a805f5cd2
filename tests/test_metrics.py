"""Tests for cxsim.metrics: hand-computed cases (docs/domain.md), edge cases, properties."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxsim import metrics as m

# --- NPS -------------------------------------------------------------------------------


def test_nps_hand_computed():
    # 5 promoters, 3 passives, 2 detractors out of 10 -> 50% - 20% = 30
    scores = [9, 10, 9, 10, 9, 7, 8, 7, 3, 6]
    assert m.nps(scores) == 30.0
    assert m.nps(np.array(scores, dtype=float)) == 30.0
    # boundaries: 6 is a detractor, 7 and 8 passives, 9 a promoter
    assert m.nps([6, 7, 8, 9]) == 0.0
    assert m.nps([0, 7]) == -50.0


def test_nps_edges():
    assert m.nps([9, 10, 10]) == 100.0
    assert m.nps([0, 3, 6]) == -100.0
    assert m.nps([7, 8]) == 0.0
    assert math.isnan(m.nps([]))


@pytest.mark.parametrize(
    ("bad", "offending"),
    [([5, 11], "11"), ([-1, 5], "-1"), ([5, 7.5], "7.5"), ([5, float("nan")], "nan")],
)
def test_nps_rejects_bad_values(bad, offending):
    with pytest.raises(ValueError, match=rf"scores.*{offending}"):
        m.nps(bad)


@pytest.mark.parametrize("bad", [[True, False], ["9", "10"], [[9, 10]]])
def test_nps_rejects_bad_types_and_shapes(bad):
    with pytest.raises(ValueError, match="scores"):
        m.nps(bad)


def test_nps_from_probs_counts_and_cdf():
    np.testing.assert_allclose(m.nps_from_probs([[0.0] * 9 + [0.5, 0.5], [1.0] + [0.0] * 10]),
                               [100.0, -100.0])
    assert m.nps_from_probs(np.full((3, 2, 11), 1 / 11)).shape == (3, 2)
    assert math.isnan(m.nps_from_counts([0] * 11))
    with pytest.raises(ValueError, match=r"p must have 11 categories.*\(10,\)"):
        m.nps_from_probs(np.ones(10) / 10)
    with pytest.raises(ValueError, match="counts must have 11"):
        m.nps_from_counts(np.ones((2, 7)))


@given(st.lists(st.integers(0, 10), min_size=1, max_size=200),
       st.lists(st.integers(1, 7), min_size=1, max_size=200),
       st.lists(st.integers(1, 5), min_size=1, max_size=200))
def test_every_form_of_a_survey_kpi_agrees_with_the_answers(nps, ces, csat):
    """From answers, counts, probabilities and the cumulative distribution: the same figure."""
    for answers, low, high, of_answers, forms in (
        (nps, 0, 10, m.nps, (m.nps_from_counts, m.nps_from_probs, m.nps_from_cdf)),
        (ces, 1, 7, m.mean_ces, (None, m.mean_ces_from_probs, m.mean_ces_from_cdf)),
        (csat, 1, 5, m.csat, (None, m.csat_from_probs, m.csat_from_cdf)),
    ):
        counts = np.bincount(np.array(answers) - low, minlength=high - low + 1)
        probs = counts / counts.sum()
        cdf = np.cumsum(probs)
        by_counts, by_probs, by_cdf = forms
        expected = of_answers(answers)
        if by_counts is not None:
            assert by_counts(counts) == pytest.approx(expected, abs=1e-9)
        assert by_probs(probs) == pytest.approx(expected, abs=1e-9)
        assert by_cdf(lambda v, cdf=cdf, low=low: cdf[v - low]) == pytest.approx(expected,
                                                                                 abs=1e-9)


@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=60),
       st.floats(0.05, 0.95))
def test_hdi_is_the_narrowest_interval_holding_prob_of_the_draws(draws, prob):
    """Against every interval between two sorted draws that holds floor(prob n) + 1 draws."""
    low, high = m.hdi(np.array(draws), prob)
    s = np.sort(draws)
    k = min(int(np.floor(prob * s.size)), s.size - 1)
    widths = [s[i + k] - s[i] for i in range(s.size - k)]
    assert high - low == min(widths)
    assert ((s >= low) & (s <= high)).sum() >= k + 1
    lows, highs = m.hdi(np.column_stack([draws, 2 * np.array(draws)]), prob)
    assert (lows[0], highs[0]) == (low, high) and highs[1] - lows[1] == 2 * (high - low)


# --- CSAT / CES ------------------------------------------------------------------------


def test_csat():
    assert m.csat([5, 4, 4, 5, 1]) == 80.0  # 4 of 5 positive (>= 4)
    assert m.csat([True, True, True, True, False]) == 80.0
    assert m.csat([1, 2, 2], positive_threshold=1, scale_max=2) == 100.0
    assert m.csat([7, 6, 5, 1], positive_threshold=6, scale_max=7) == 50.0
    assert math.isnan(m.csat([]))


def test_csat_rejects():
    with pytest.raises(ValueError, match=r"answers.*6"):
        m.csat([5, 6])
    with pytest.raises(ValueError, match=r"answers.*0"):
        m.csat([0, 5])
    with pytest.raises(ValueError, match=r"positive_threshold.*6"):
        m.csat([5], positive_threshold=6)


def test_mean_ces():
    assert m.mean_ces([1, 2, 3, 4, 5, 6, 7]) == 4.0
    assert m.mean_ces([1, 5, 3], scale=5) == 3.0
    assert math.isnan(m.mean_ces([]))
    with pytest.raises(ValueError, match=r"scores.*6"):
        m.mean_ces([6], scale=5)
    with pytest.raises(ValueError, match=r"scores.*0"):
        m.mean_ces([0, 3])
    with pytest.raises(ValueError, match=r"scale.*1"):
        m.mean_ces([1], scale=1)


# --- contact-centre operations ---------------------------------------------------------


def test_fcr_and_abandonment():
    assert m.fcr([True, False, True, True, False]) == 0.6
    assert m.fcr([1, 1, 0, 1]) == 0.75
    assert m.abandonment_rate([0, 0, 0, 1, 0, 0, 0, 1]) == 0.25
    assert math.isnan(m.fcr([]))
    assert math.isnan(m.abandonment_rate([]))
    with pytest.raises(ValueError, match=r"resolved_first_contact.*2"):
        m.fcr([1, 2])
    with pytest.raises(ValueError, match=r"abandoned.*0\.5"):
        m.abandonment_rate([0.5])


def test_aht():
    assert m.aht([120.0, 240.0, 360.0]) == 240.0
    assert math.isnan(m.aht([]))
    with pytest.raises(ValueError, match=r"handle_times.*-1"):
        m.aht([3.0, -1.0])
    with pytest.raises(ValueError, match=r"handle_times.*inf"):
        m.aht([3.0, np.inf])


def test_asa_and_service_level():
    waits = [0.0, 10.0, 20.0, 30.0, 40.0, np.nan]
    answered = [True, True, True, True, False, False]
    assert m.asa(waits, answered) == 15.0  # (0 + 10 + 20 + 30) / 4
    # answered within 20 s: 0, 10, 20 -> 3 of the 6 arrivals (abandons count against)
    assert m.service_level(waits, answered, threshold=20.0) == 0.5
    assert m.service_level(waits, answered, threshold=0.0) == pytest.approx(1 / 6)
    assert math.isnan(m.asa([5.0], [False]))
    assert math.isnan(m.service_level([], [], threshold=20.0))


def test_asa_and_service_level_reject():
    with pytest.raises(ValueError, match="same shape"):
        m.asa([1.0, 2.0], [True])
    with pytest.raises(ValueError, match=r"waits.*-3"):
        m.service_level([-3.0], [True], threshold=20.0)
    with pytest.raises(ValueError, match=r"threshold.*-1"):
        m.service_level([1.0], [True], threshold=-1.0)


def test_mean_ttr():
    assert m.mean_ttr([1.0, 2.0, 6.0, np.inf], [True, True, True, False]) == 3.0
    assert math.isnan(m.mean_ttr([1.0], [False]))
    with pytest.raises(ValueError, match=r"ttr.*nan"):
        m.mean_ttr([np.nan], [True])


# --- churn, retention, LTV -------------------------------------------------------------


def test_churn_rate():
    assert m.churn_rate(3, 60) == 0.05
    np.testing.assert_allclose(m.churn_rate([10, 0, 0], [100, 50, 0]), [0.1, 0.0, np.nan])
    with pytest.raises(ValueError, match=r"churned.*11"):
        m.churn_rate(11, 10)
    with pytest.raises(ValueError, match=r"at_risk.*-5"):
        m.churn_rate(0, -5)
    with pytest.raises(ValueError, match="churned .* and at_risk .* do not broadcast"):
        m.churn_rate([1, 2], [3, 4, 5])


def test_retention_curve_without_censoring():
    churn = [0.2, 1.0, 1.7, 3.5, np.inf]  # churn at exactly 1.0 is inactive at the end of 1
    np.testing.assert_allclose(
        m.retention_curve(churn, np.inf, periods=4), [3 / 5, 2 / 5, 2 / 5, 1 / 5]
    )
    # censoring at or after the horizon changes nothing
    np.testing.assert_allclose(
        m.retention_curve(churn, 4.0, periods=4), m.retention_curve(churn, np.inf, 4)
    )


def test_retention_curve_with_censoring():
    churn = [0.5, 2.5, np.inf, np.inf]
    censor = [np.inf, np.inf, 1.5, np.inf]  # customer 3 leaves observation during period 2
    # k=1: all 4 counted, 3 active; k=2: 3 counted, 2 active; k=3: 3 counted, 1 active
    np.testing.assert_allclose(m.retention_curve(churn, censor, 3), [3 / 4, 2 / 3, 1 / 3])
    # churn after the censoring time is not observed: the customer is censored instead
    np.testing.assert_allclose(m.retention_curve([2.5], [1.5], 2), [1.0, np.nan])


def test_retention_curve_rejects():
    with pytest.raises(ValueError, match=r"churn_times.*-1"):
        m.retention_curve([-1.0], np.inf, 2)
    with pytest.raises(ValueError, match=r"churn_times.*nan"):
        m.retention_curve([np.nan], np.inf, 2)
    with pytest.raises(ValueError, match="censored_at"):
        m.retention_curve([1.0, 2.0], [1.0, 2.0, 3.0], 2)
    with pytest.raises(ValueError, match=r"periods.*0"):
        m.retention_curve([1.0], np.inf, 0)


def test_ltv():
    # no discount: 10 * (1 + 0.8 + 0.64) = 24.4
    assert m.ltv(10.0, [1.0, 0.8, 0.64], 0.0) == pytest.approx(24.4)
    # 10% per period, period 0 undiscounted: 10 + 8 / 1.1 + 6.4 / 1.21
    assert m.ltv(10.0, [1.0, 0.8, 0.64], 0.1) == pytest.approx(10 + 8 / 1.1 + 6.4 / 1.21)
    # per-period revenue
    assert m.ltv([5.0, 10.0], [1.0, 0.5], 0.0) == 10.0
    # draws x periods, with a per-draw revenue column
    out = m.ltv(np.array([[1.0], [2.0]]), np.array([[1.0, 1.0], [1.0, 0.5]]), 0.0)
    np.testing.assert_allclose(out, [2.0, 3.0])
    # composes with retention_curve: everyone active at t=0, then the curve
    s = np.r_[1.0, m.retention_curve([0.5, 1.5, np.inf, np.inf], np.inf, 2)]
    assert m.ltv(4.0, s, 0.0) == pytest.approx(4 * (1 + 0.75 + 0.5))


def test_ltv_rejects():
    with pytest.raises(ValueError, match=r"survival.*1\.2"):
        m.ltv(1.0, [1.2, 0.5], 0.0)
    with pytest.raises(ValueError, match=r"survival.*non-increasing"):
        m.ltv(1.0, [0.5, 0.6], 0.0)
    with pytest.raises(ValueError, match=r"discount_rate_per_period.*-1"):
        m.ltv(1.0, [1.0], -1.0)
    with pytest.raises(ValueError, match="revenue_per_period"):
        m.ltv([1.0, 2.0, 3.0], [1.0, 0.5], 0.0)
    with pytest.raises(ValueError, match="survival"):
        m.ltv(1.0, [], 0.0)


# --- confidence intervals --------------------------------------------------------------


def test_ratio_ci():
    # z_0.975 * sqrt(0.2 * 0.8 / 400) = 1.959964 * 0.02
    assert m.ratio_ci(80, 400) == pytest.approx(1.959964 * 0.02, rel=1e-6)
    # z_0.95 = 1.644854
    assert m.ratio_ci(50, 100, level=0.90) == pytest.approx(1.644854 * 0.05, rel=1e-6)
    np.testing.assert_allclose(m.ratio_ci([0, 5], [0, 10]), [np.nan, 1.959964 * 0.158114], 1e-5)
    with pytest.raises(ValueError, match=r"successes.*11"):
        m.ratio_ci(11, 10)
    with pytest.raises(ValueError, match=r"level.*1\.5"):
        m.ratio_ci(1, 10, level=1.5)


def test_mean_ci():
    # n=4, s = sqrt(5/3), t_{0.975,3} = 3.182446
    v = [1.0, 2.0, 3.0, 4.0]
    assert m.mean_ci(v) == pytest.approx(3.182446 * math.sqrt(5 / 3) / 2, rel=1e-6)
    per_scenario = m.mean_ci(np.array([v, [2.0, 2.0, 2.0, 2.0]]))
    np.testing.assert_allclose(per_scenario, [m.mean_ci(v), 0.0])
    assert math.isnan(m.mean_ci([3.0]))
    assert math.isnan(m.mean_ci([1.0, np.nan, 3.0]))
    with pytest.raises(ValueError, match=r"values_per_replication.*inf"):
        m.mean_ci([1.0, np.inf])


# --- properties ------------------------------------------------------------------------


@given(st.lists(st.integers(0, 10), min_size=1, max_size=200))
def test_nps_bounded_and_matches_shares(scores):
    value = m.nps(scores)
    assert -100.0 <= value <= 100.0
    s = np.array(scores)
    assert value == pytest.approx(100 * (np.mean(s >= 9) - np.mean(s <= 6)), abs=1e-9)


@given(
    st.lists(
        st.tuples(st.floats(0, 100, allow_nan=False), st.booleans()), min_size=1, max_size=100
    ),
    st.floats(0, 100, allow_nan=False),
)
def test_service_level_at_most_share_answered(contacts, threshold):
    waits, answered = (list(x) for x in zip(*contacts, strict=True))
    sl = m.service_level(waits, answered, threshold)
    assert 0.0 <= sl <= np.mean(answered) + 1e-12
    assert sl <= 1.0 - m.abandonment_rate(np.logical_not(answered)) + 1e-12


@given(
    st.lists(
        st.tuples(
            st.one_of(st.floats(0, 12, allow_nan=False), st.just(np.inf)),
            st.one_of(st.floats(0, 12, allow_nan=False), st.just(np.inf)),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 12),
)
def test_retention_curve_non_increasing(customers, periods):
    churn, censor = (np.array(x) for x in zip(*customers, strict=True))
    curve = m.retention_curve(churn, censor, periods)
    assert curve.shape == (periods,)
    finite = curve[~np.isnan(curve)]
    assert np.all((finite >= 0) & (finite <= 1))
    assert np.all(np.diff(finite) <= 1e-12)
    # nan only once every remaining customer has been censored, and it stays nan
    first_nan = np.argmax(np.isnan(curve)) if np.isnan(curve).any() else periods
    assert np.isnan(curve[first_nan:]).all()


@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=24),
    st.floats(0, 100, allow_nan=False),
    st.floats(0, 0.5, allow_nan=False),
)
def test_ltv_non_decreasing_in_survival(retention_pairs, revenue, discount):
    low, high = (np.array(x) for x in zip(*retention_pairs, strict=True))
    high = np.maximum(low, high)
    s_low, s_high = np.cumprod(low), np.cumprod(high)  # both valid survival curves
    assert np.all(s_high >= s_low)
    assert m.ltv(revenue, s_high, discount) >= m.ltv(revenue, s_low, discount) - 1e-9
    stacked = m.ltv(revenue, np.stack([s_low, s_high]), discount)
    assert stacked[1] >= stacked[0] - 1e-9


@given(
    st.lists(
        st.tuples(
            st.one_of(st.integers(0, 8).map(float), st.floats(0, 8), st.just(np.inf)),
            st.one_of(st.integers(0, 8).map(float), st.floats(0, 8), st.just(np.inf)),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 8),
)
def test_retention_curve_matches_direct_definition(customers, periods):
    churn, censor = (np.array(x) for x in zip(*customers, strict=True))
    expected = []
    for k in range(1, periods + 1):
        counted = (churn <= censor) | (censor >= k)  # not censored before k
        active = counted & (churn > k)
        expected.append(active.sum() / counted.sum() if counted.any() else np.nan)
    np.testing.assert_allclose(m.retention_curve(churn, censor, periods), expected)
