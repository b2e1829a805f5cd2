"""Contact logs read through mappings: the Technion format (must-show 4), the canonical round
trip, an ACD export, time zones, and each quirk handled on purpose (known truth throughout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from contact_logs import (
    SAMPLE,
    Truth,
    day_profile,
    simulate,
    technion_rows,
    technion_text,
    technion_truth,
    write_canonical,
)

from cxsim.data import DataError
from cxsim.data.contacts import load_mapping, read_contacts, read_table, write_contacts


@pytest.fixture(scope="module")
def technion() -> tuple:
    return read_contacts(SAMPLE, "technion"), technion_rows(technion_truth(), 1999)[1]


def test_the_committed_sample_is_what_the_generator_writes() -> None:
    assert SAMPLE.read_bytes() == technion_text(technion_truth(), 1999).encode("ascii")
    assert SAMPLE.read_bytes().count(b"\r\n") == SAMPLE.read_bytes().count(b"\n")


def test_technion_counts(technion) -> None:
    log, truth = technion
    c = truth["counts"]
    assert log.counts["rows"] == c["served"] + c["abandoned"] + c["vru_hangs"] + c["phantoms"] \
        + c["duplicates"]
    assert log.counts["excluded"] == {"abandoned_before_queue": c["vru_hangs"],
                                      "duplicate_row": c["duplicates"], "phantom": c["phantoms"]}
    assert log.contacts["outcome"].value_counts().to_dict() == {
        "served": c["served"], "abandoned": c["abandoned"], "contained": 0, "transferred": 0,
        "unresolved": 0}
    notes = log.counts["notes"]
    assert notes["zero_length_service"] == c["zero_services"]
    assert notes["crossed_midnight"] == c["crossed_midnight"] > 0
    assert log.counts["unusable"] == {}
    assert log.counts["line_ends"] == "crlf"
    assert (log.origin, log.timezone, log.calendar.n_days) == ("1999-01-01T00:00:00",
                                                              "Asia/Jerusalem", 3)


def test_technion_times_are_the_generators(technion) -> None:
    log, truth = technion
    f = log.contacts.set_index("contact_id")
    expect = pd.DataFrame.from_dict(truth["calls"], orient="index",
                                    columns=["arrival", "wait", "handle"])
    assert set(f.index) == set(expect.index)
    expect = expect.loc[f.index]
    assert np.array_equal(f["arrival"].to_numpy(), expect["arrival"].to_numpy() / 60.0)
    wait = (f["queue_exit"] - f["queue_entry"]).fillna(0.0).to_numpy()
    assert np.allclose(wait, expect["wait"].to_numpy() / 60.0, rtol=0, atol=1e-9)
    handle = (f["service_end"] - f["service_start"]).to_numpy()
    assert np.allclose(handle, expect["handle"].to_numpy() / 60.0, rtol=0, atol=1e-9,
                       equal_nan=True)
    assert (handle[~np.isnan(handle)] >= 0).all()  # calls crossing midnight end the next day


def test_technion_fields_are_kept(technion) -> None:
    log, _ = technion
    f = log.contacts
    raw = pd.read_csv(SAMPLE, sep="\t", dtype=str).drop_duplicates("call_id").set_index(
        "call_id").loc[f["contact_id"]]
    assert (f["priority"].to_numpy() == raw["priority"].astype(int).to_numpy()).all()
    assert (f["reason"].astype(str).to_numpy() == raw["type"].to_numpy()).all()
    assert (f["queue"].astype(str).to_numpy() == raw["vru+line"].to_numpy()).all()
    assert set(f["channel"]) == {"phone"}
    served = (f["outcome"] == "served").to_numpy()
    assert f["agent_id"][~served].isna().all()  # NO_SERVER is no agent
    assert f["agent_id"][served].str.fullmatch(r"AGENT\d\d").all()  # no CR left at line ends
    assert f["customer_id"].isna().sum() == (raw["customer_id"] == "0").sum()
    never_queued = (raw["q_start"] == "0:00:00").to_numpy()
    assert f["queue_entry"].isna().to_numpy().tolist() == never_queued.tolist()


def test_line_ends_lf_or_mixed_read_the_same(technion, tmp_path: Path) -> None:
    log, _ = technion
    text = SAMPLE.read_bytes().decode()
    lines = text.split("\r\n")
    for name, content in (("lf", text.replace("\r\n", "\n")),
                          ("mixed", "\n".join(x + ("\r" if i % 2 and x else "") for i, x in
                                              enumerate(lines)))):
        path = tmp_path / f"{name}.txt"
        path.write_text(content, newline="")
        other = read_contacts(path, "technion")
        pd.testing.assert_frame_equal(other.contacts, log.contacts)
        assert other.counts["line_ends"] == name


def test_a_separator_can_be_named(technion) -> None:
    log, _ = technion
    named = read_contacts(SAMPLE, "technion", overrides={"file": {"separator": "tab"}})
    pd.testing.assert_frame_equal(named.contacts, log.contacts)


def test_vru_hangs_can_be_kept(technion) -> None:
    log, truth = technion
    kept = read_contacts(SAMPLE, "technion",
                         overrides={"policy": {"abandoned_before_queue": "keep"}})
    n = truth["counts"]["vru_hangs"]
    assert len(kept.contacts) == len(log.contacts) + n
    assert "abandoned_before_queue" not in kept.counts["excluded"]


def test_an_override_changes_one_key(technion) -> None:
    log, _ = technion
    entry = read_contacts(SAMPLE, "technion", overrides={"columns": {"arrival": "vru_entry"}})
    early = log.contacts["arrival"].to_numpy() - entry.contacts["arrival"].to_numpy()
    assert (early > 0).all() and early.max() < 1.0  # the VRU takes under a minute


def test_canonical_round_trip_is_exact(tmp_path: Path) -> None:
    truth = Truth(np.tile(day_profile(8, 20, 30.0), (7, 1)), np.full((7, 24), 4), days=2)
    frame = simulate(truth, seed=5)
    log = read_contacts(write_canonical(frame, tmp_path / "contacts.csv"))
    f = log.contacts
    for col in ("arrival", "queue_entry", "queue_exit", "service_start", "service_end"):
        a, b = f[col].to_numpy(), frame[col].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[~np.isnan(a)],
                                                                           b[~np.isnan(b)])
    assert f["contact_id"].tolist() == frame["contact_id"].tolist()
    assert log.origin == "2024-01-01T00:00:00" and log.calendar.first_weekday == 0


def test_write_contacts_reads_back_bit_for_bit(technion, tmp_path: Path) -> None:
    log, _ = technion
    f = log.contacts.copy()
    f["reason"] = f["reason"].astype("str").replace({"PE": 'english, "PE"'})  # needs quotes
    back = read_contacts(write_contacts(f, tmp_path / "contacts.csv"),
                         overrides={"origin": log.origin}).contacts
    for col in f.columns.drop("line"):
        left, right = back[col], f[col]
        if left.dtype == float:
            assert np.array_equal(left.to_numpy(), right.to_numpy(), equal_nan=True), col
        else:
            assert left.astype("str").fillna("").tolist() == \
                right.astype("str").fillna("").tolist(), col
    bad = f.assign(outcome="done")
    with pytest.raises(DataError, match="line 2, column outcome: value done: unknown outcome"):
        write_contacts(bad, tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


ACD = ("ContactID;CustomerRef;Media;Skill;Started;WaitSec;TalkSec;AgentLogin;Disposition;"
       "CaseNo;Topic;TransferredFrom\n") + """\
1;K1;VOICE;Sales;30/03/2024 23:59:00;90;240;ann;TRANSFER;C1;billing;-
2;K1;VOICE;Care;31/03/2024 00:05:30;20;300;bob;ANSWERED;C1;billing;1
3;K2;VOICE;Sales;31/03/2024 09:01:00;95;0;-;ABANDONED;;billing;-
4;TEST;VOICE;Sales;31/03/2024 09:02:00;1;10;ann;ANSWERED;;billing;-
5;K3;CHAT;Care;31/03/2024 09:03:00;10;600;bob;ANSWERED;C2;returns;-
6;K4;BOT;Bot;31/03/2024 09:04:00;0;45;NONE;BOT_RESOLVED;;returns;-
7;ANONYMOUS;VOICE;Sales;31/03/2024 09:05:00;2;0;-;SHORT_ABANDON;;billing;-
8;K5;MAIL;Care;31/03/2024 10:00:00;0;0;carl;ANSWERED;C3;returns;-
"""


def test_an_acd_export_with_durations_and_value_maps(tmp_path: Path) -> None:
    path = tmp_path / "acd.csv"
    path.write_text(ACD)
    log = read_contacts(path, "acd_example")
    f = log.contacts.set_index("contact_id")
    assert log.origin == "2024-03-30T00:00:00" and log.calendar.n_days == 2
    assert log.counts["excluded"] == {"short_abandon": 1, "test_call": 1}
    assert f.loc["1", "arrival"] == 23 * 60 + 59
    assert f.loc["1", "queue_exit"] - f.loc["1", "arrival"] == 1.5
    assert f.loc["1", "service_end"] - f.loc["1", "service_start"] == 4.0
    assert f.loc["2", "transfer_from"] == "1" and f.loc["1", "outcome"] == "transferred"
    assert np.isnan(f.loc["3", "service_start"]) and f.loc["3", "outcome"] == "abandoned"
    assert f["channel"].astype(str).to_dict() == {"1": "phone", "2": "phone", "3": "phone",
                                                  "5": "chat", "6": "chatbot", "8": "email"}
    assert f.loc["6", "outcome"] == "contained" and pd.isna(f.loc["6", "agent_id"])
    assert log.counts["notes"]["zero_length_service"] == 1  # the e-mail answered in 0 s
    assert log.counts["notes"]["transfer_source_unknown"] == 0


def test_instants_are_shown_on_the_local_wall_clock(tmp_path: Path) -> None:
    path = tmp_path / "iso.csv"
    # 2024-03-31 is the spring DST change in Berlin (01:00 UTC: 02:00 CET -> 03:00 CEST)
    path.write_text("id,at,ends,epoch,kind\n"
                    "a,2024-03-31T00:30:00Z,2024-03-31T01:30:00+00:00,1711845000,served\n"
                    "b,2024-03-31 02:45:00,2024-03-31T04:00:00+02:00,1711848600,served\n")
    m = load_mapping("canonical", overrides={
        "origin": None, "timezone": "Europe/Berlin",
        "columns": {k: None for k in ("customer_id", "queue_entry", "queue_exit", "agent_id",
                                      "case_id", "reason", "priority", "transfer_from",
                                      "channel", "queue")}
        | {"contact_id": "id", "arrival": "at", "service_start": "at", "service_end": "ends",
           "outcome": "kind"},
        "constants": {"queue": "q", "channel": "phone"},
        "times": {"format": "iso8601", "columns": {"ends": "iso8601"}}})
    f = read_contacts(path, m).contacts
    assert f["arrival"].tolist() == [90.0, 165.0]  # 01:30 CET; the naive 02:45 is taken as is
    assert f["service_end"].tolist() == [210.0, 240.0]  # 03:30 CEST; 04:00 CEST
    epoch = tmp_path / "epoch.csv"
    epoch.write_text("id,epoch,kind\na,1711845000,unresolved\nb,1711848600.5,unresolved\n")
    m2 = load_mapping("canonical", overrides={
        "origin": "2024-03-31T00:00:00", "timezone": "Europe/Berlin",
        "columns": {k: None for k in ("customer_id", "queue_entry", "queue_exit",
                                      "service_start", "service_end", "agent_id", "case_id",
                                      "reason", "priority", "transfer_from", "channel",
                                      "queue")} | {"contact_id": "id", "arrival": "epoch",
                                                   "outcome": "kind"},
        "constants": {"queue": "q", "channel": "phone"}, "times": {"format": "epoch_s"}})
    assert read_contacts(epoch, m2).contacts["arrival"].tolist() == [90.0, 210.0 + 0.5 / 60]


def test_missing_days_and_a_missing_week_are_reported_not_averaged(tmp_path: Path) -> None:
    rate = np.tile(day_profile(8, 20, 20.0), (7, 1))
    rate[6] = 0.0  # closed on Sundays: not missing
    truth = Truth(rate, np.where(rate > 0, 4, 0), days=35, missing_days=(9, 14, 15, 16, 17,
                                                                          18, 19, 20))
    log = read_contacts(write_canonical(simulate(truth, seed=3), tmp_path / "c.csv"))
    missing = np.flatnonzero(~log.calendar.observed)
    # a Wednesday and a week; that week's Sunday (day 20) was closed anyway: not missing
    assert missing.tolist() == [9, 14, 15, 16, 17, 18, 19]
    assert [d["date"] for d in log.report()["missing_days"]][:2] == ["2024-01-10",
                                                                     "2024-01-15"]


def test_unusable_rows_are_counted_by_reason(tmp_path: Path) -> None:
    truth = Truth(np.tile(day_profile(8, 20, 30.0), (7, 1)), np.full((7, 24), 4), days=1)
    frame = simulate(truth, seed=8)
    served = np.flatnonzero(frame["outcome"] == "served")
    i, j = served[3], served[7]
    frame.loc[i, "service_end"] = frame.loc[i, "service_start"] - 0.5
    frame.loc[j, "queue_exit"] = np.nan
    log = read_contacts(write_canonical(frame, tmp_path / "c.csv"))
    assert log.counts["unusable"] == {"queue_entry_without_exit": 1,
                                      "service_end_before_start": 1}
    assert sorted(log.unusable["line"]) == [i + 2, j + 2]
    assert len(log.contacts) == len(frame) - 2


def test_a_headerless_export_names_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("ann,sales,2024-01-01T08:00,2024-01-01T16:00\n"
                    "bob,sales,2024-01-01T12:00,2024-01-01T20:30\n")
    m = load_mapping("roster", overrides={"file": {"names": ["agent_id", "queue", "start",
                                                             "end"]}})
    t = read_table(path, m, origin="2024-01-01T00:00:00")
    assert t.frame["start"].tolist() == [480.0, 720.0]
    assert t.frame["end"].tolist() == [960.0, 1230.0]
    assert t.frame["line"].tolist() == [1, 2]


def test_a_real_midnight_is_not_a_sentinel(tmp_path: Path) -> None:
    """0:00:00 means "did not happen" only when both ends of its interval say so."""
    header = SAMPLE.read_bytes().split(b"\r\n", 1)[0].decode()
    rows = ["AA0406\t59143\t7\t2\tPE\t990228\t23:58:21\t23:58:46\t25\t0:00:00\t0:00:00\t0"
            "\tAGENT\t23:58:46\t0:00:00\t74\tAGENT25",  # served until midnight
            "AA0406\t59144\t8\t2\tPE\t990228\t23:59:21\t23:59:40\t19\t23:59:40\t0:00:00\t20"
            "\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER"]  # hung up in the queue at midnight
    path = tmp_path / "midnight.txt"
    path.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode())
    log = read_contacts(path, "technion")
    f = log.contacts.set_index("contact_id")
    assert f.loc["59143", "service_end"] == 1440.0 and np.isnan(f.loc["59143", "queue_entry"])
    assert f.loc["59144", "queue_exit"] == 1440.0 and f.loc["59144", "outcome"] == "abandoned"
    assert log.counts["notes"]["sentinel_read_as_midnight"] == 2
    assert log.counts["unusable"] == {}


def test_a_talk_time_column_starts_service_at_the_queue_exit_or_arrival(tmp_path: Path) -> None:
    path = tmp_path / "talk.csv"
    path.write_text("id,at,q_in,q_out,talk_s,kind\n"
                    "a,10.0,10.0,12.5,120,served\n"    # waited 2.5 min, talked 2 min
                    "b,20.0,,,90,served\n"             # never queued: served at arrival
                    "c,30.0,30.0,31.0,0,abandoned\n")  # no talk for an abandon
    cols = {k: None for k in ("customer_id", "agent_id", "case_id", "reason", "priority",
                              "transfer_from", "channel", "queue", "service_start",
                              "service_end")}
    m = load_mapping("canonical", overrides={
        "columns": cols | {"contact_id": "id", "arrival": "at", "queue_entry": "q_in",
                           "queue_exit": "q_out", "outcome": "kind"},
        "constants": {"queue": "q", "channel": "phone"},
        "durations": {"handle": {"column": "talk_s", "unit": "s"}}})
    f = read_contacts(path, m).contacts.set_index("contact_id")
    assert f.loc["a", ["service_start", "service_end"]].tolist() == [12.5, 14.5]
    assert f.loc["b", ["service_start", "service_end"]].tolist() == [20.0, 21.5]
    assert np.isnan(f.loc["c", "service_start"])
