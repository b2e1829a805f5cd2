"""Needs from contacts, joined with survey and CRM exports, become an observed-data directory
that ``load_observed`` (what cxsim-fit reads) accepts; every row left out is counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from contact_logs import SAMPLE
from test_contact_read import ACD

from cxsim.data import load_observed, write_observed
from cxsim.data.contacts import load_mapping, read_contacts, read_table
from cxsim.data.contacts.observed import observed_from_contacts

SURVEYS = """SurveyID,Customer,Interaction,Type,SentAt,NPS,CES,CSAT
1,K1,1,TRANSACTIONAL,2024-03-31T00:20:00,,2,5
2,K2,3,TRANSACTIONAL,2024-03-31T09:10:00,,,
3,K3,5,TRANSACTIONAL,2024-03-31T09:20:00,,,4
4,K3,,RELATIONSHIP,2024-03-31T12:00:00,9,,
5,K5,99,TRANSACTIONAL,2024-03-31T12:00:00,,3,4
6,K1,,RELATIONSHIP,2024-03-29T12:00:00,7,,
7,K4,6,TRANSACTIONAL,2024-03-31T09:30:00,,1,5
"""
CRM = """CustomerRef,Segment,Since,ClosedOn,Revenue
K1,gold,2020-01-01,,120.5
K2,basic,2024-03-30,2024-03-31T18:00:00,10
K3,basic,2023-05-01,2024-06-01,30
K4,gold,2021-01-01,,0
K6,basic,2019-01-01,2024-01-01,5
"""


@pytest.fixture
def acd_observed(tmp_path: Path):
    (tmp_path / "acd.csv").write_text(ACD)
    (tmp_path / "surveys.csv").write_text(SURVEYS)
    (tmp_path / "crm.csv").write_text(CRM)
    log = read_contacts(tmp_path / "acd.csv", "acd_example")
    surveys = read_table(tmp_path / "surveys.csv", load_mapping("surveys_example"), log.origin)
    crm = read_table(tmp_path / "crm.csv", load_mapping("crm_example"), log.origin)
    return log, observed_from_contacts(log, surveys, crm, window_min=600.0)


def test_needs_surveys_and_customers_are_joined(acd_observed, tmp_path: Path) -> None:
    log, o = acd_observed
    d = o.data
    key = dict(zip(o.ids["source_id"], o.ids["customer_id"], strict=True))
    assert key == {"K1": 1, "K2": 2, "K3": 3, "K4": 4}  # only customers in the directory
    ep = d.episodes.set_index("customer_id")
    k1 = ep.loc[key["K1"]]  # contacts 1 (transferred) and 2 (its transfer, same case): one need
    assert (k1["contacts"], k1["transfers"], k1["touchpoints"], k1["outcome"]) == (
        2, 1, "Care|Sales", "resolved")
    assert k1["start_min"] == 23 * 60 + 59 and k1["ttr_min"] == k1["end_min"] - k1["start_min"]
    assert ep.loc[key["K4"], "bot"] == "contained"
    assert ep.loc[key["K2"], "outcome"] == "abandoned"
    assert o.counts["needs_left_out"] == {"unidentified_customer": 0,
                                          "customer_not_in_customers": 1,  # K5's e-mail
                                          "before_customer_start": 0, "after_customer_churn": 0}
    s = d.surveys.set_index("survey_id")
    assert sorted(s.index) == [1, 2, 4, 7]
    assert s.loc[1, "episode_id"] == ep.loc[key["K1"], "episode_id"]
    assert (s.loc[2, "answered"], s.loc[4, "kind"], s.loc[4, "nps"]) == (0, "periodic", 9)
    assert o.counts["surveys_left_out"] == {
        "answered_post_interaction_without_ces_and_csat": 1,
        "post_interaction_without_a_known_contact": 1, "sent_before_the_log": 1,
        "customer_not_in_customers": 0, "episode_left_out": 0}
    c = d.customers.set_index("customer_id")
    assert "K6" not in key  # churned before the log began
    assert o.counts["customers_left_out"]["churned_before_the_log"] == 1
    assert c.loc[key["K2"], "churn_min"] == 2520.0 and c.loc[key["K2"], "start_min"] == 0.0
    assert np.isnan(c.loc[key["K3"], "churn_min"])  # churned after the log: not observed
    assert (c["censored_min"] == log.end_min).all()
    back = load_observed(write_observed(d, tmp_path / "observed"))
    pd.testing.assert_frame_equal(back.episodes, d.episodes)
    pd.testing.assert_frame_equal(back.surveys, d.surveys)


def test_a_need_outside_its_customers_life_is_left_out_and_counted(tmp_path: Path) -> None:
    """The CRM says K2 left at 00:00 on the 31st (a date only) and K1 became a customer on
    the 31st, yet both called before: impossible timelines for the model, so those needs
    are left out, each counted by its reason, with the survey of K2's need; what remains
    loads as cxsim-fit reads it."""
    (tmp_path / "acd.csv").write_text(ACD)
    (tmp_path / "surveys.csv").write_text(SURVEYS)
    (tmp_path / "crm.csv").write_text(CRM.replace("2024-03-31T18:00:00", "2024-03-31")
                                      .replace("K1,gold,2020-01-01", "K1,gold,2024-03-31"))
    log = read_contacts(tmp_path / "acd.csv", "acd_example")
    surveys = read_table(tmp_path / "surveys.csv", load_mapping("surveys_example"), log.origin)
    crm = read_table(tmp_path / "crm.csv", load_mapping("crm_example"), log.origin)
    o = observed_from_contacts(log, surveys, crm, window_min=600.0)
    assert o.counts["needs_left_out"]["after_customer_churn"] == 1
    assert o.counts["needs_left_out"]["before_customer_start"] == 1
    assert o.counts["surveys_left_out"]["episode_left_out"] == 2  # K1's and K2's surveys
    back = load_observed(write_observed(o.data, tmp_path / "observed"))
    assert len(back.episodes) == o.counts["needs"] - sum(o.counts["needs_left_out"].values())


def test_the_technion_sample_becomes_an_observed_directory(tmp_path: Path) -> None:
    log = read_contacts(SAMPLE, "technion")
    o = observed_from_contacts(log, window_min=1440.0)
    unidentified = int(log.contacts["customer_id"].isna().sum())
    assert o.counts["needs_left_out"]["unidentified_customer"] == unidentified
    ep = o.data.episodes
    assert ep["contacts"].sum() == len(log.contacts) - unidentified
    assert set(ep["outcome"]) <= {"resolved", "abandoned", "in_system"}
    assert (ep["customer_id"] == ep["customer_id"].astype(int)).all()  # Technion ids kept
    assert set(o.ids["customer_id"].astype(str)) == set(o.ids["source_id"])
    back = load_observed(write_observed(o.data, tmp_path / "observed"))
    assert len(back.episodes) == len(ep) and len(back.customers) == ep["customer_id"].nunique()
