"""The engine's own contact log (cxsim.engine.contacts): keeping it changes no figure, it reads
back as a real log would, and its rows agree with the engine's counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxsim.data.contacts import read_contacts, write_contacts
from cxsim.engine import simulate
from cxsim.spec import compose_scenario


@pytest.fixture(scope="module")
def journey5():
    s = compose_scenario(["experiment=journey5", "horizon=3", "warmup=0", "replications=1",
                          "population.customers=3000"])
    return s, simulate(s), simulate(s, keep_rows=True)


def test_keeping_contacts_changes_no_figure(journey5) -> None:
    _, plain, kept = journey5
    assert kept.metrics == plain.metrics


def test_contacts_read_back_as_a_log(journey5, tmp_path: Path) -> None:
    s, _, kept = journey5
    contacts = kept.replications[0].contacts
    log = read_contacts(write_contacts(contacts, tmp_path / "contacts.csv"))
    assert log.counts["unusable"] == {} and log.counts["excluded"] == {}
    assert len(log.contacts) == len(contacts)
    assert set(log.contacts["queue"].astype(str)) <= set(s.touchpoints)
    # every transfer source is a contact of the log that was passed on
    source = contacts.set_index("contact_id").loc[contacts["transfer_from"].dropna()]
    assert len(source) and set(source["outcome"]) == {"transferred"}


def test_rows_agree_with_the_engine_counts(journey5) -> None:
    _, _, kept = journey5
    contacts = kept.replications[0].contacts
    for name, tp in kept.metrics["touchpoints"].items():
        mine = contacts[contacts["queue"] == name]
        if "abandon_rate" in tp and tp["abandon_rate"] is not None:
            abandoned = int((mine["outcome"] == "abandoned").sum())
            assert abandoned == round(tp["abandon_rate"] * tp["volume"]), name
        # only customers still waiting at the horizon have no row
        assert len(mine) <= tp["volume"] and len(mine) >= 0.95 * tp["volume"], name
