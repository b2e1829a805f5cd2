"""Observed-data directories: exact round trip, hand-computed KPIs, located errors.

A small valid data set (4 customers, 5 episodes, 9 surveys of both kinds) is written with
``write_observed``; each malformed variant edits the bytes of one file and must raise a
:class:`DataError` naming the file, line (header = line 1), column and value.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxsim.data import DataError, ObservedData, load_observed, observed_metrics, write_observed
from cxsim.data.schemas import FIELDS, customers_schema, episodes_schema, surveys_schema

NA = pd.NA
TRICKY = [0.1 + 0.2, 1 / 3, 1e-300, 12345.678901234567, 2.0**-1074]


def _typed(file: str, rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[f.name for f in FIELDS[file]])
    return frame.astype({f.name: f.dtype for f in FIELDS[file]})


def valid_data() -> ObservedData:
    customers = _typed("customers.csv", [
        (1, "young", 0.0, np.nan, 43200.0, 120.5),
        (2, "senior", 100.25, 21700.25, 43200.0, 30.0),
        (3, "young", 0.0, np.nan, 43200.0, 1 / 3),
        (4, "senior", 1000.0, 22600.0, 43200.0, 0.0),
    ])
    ep = [
        (1, 1, "billing", 10.0, 25.5, "phone", "phone", "support_line", 1, 3.25, 12.25,
         2, 0, 0, 0, "none", "resolved", 15.5),
        (2, 1, "returns", 100.0, 400.0, "chat", "chat|phone", "bot|support_line", 2, 0.1,
         20.0, 4, 1, 1, 1, "escalated", "resolved", 300.0),
        (3, 2, "billing", 200.0, 230.0, "phone", "phone", "support_line", 1, 30.0, 0.0,
         1, 0, 0, 0, "none", "abandoned", np.nan),
        (4, 3, "delivery", 500.0, 505.0, "web", "web", "faq", 0, 0.0, 0.0,
         3, 0, 0, 0, "contained", "gave_up", np.nan),
        (5, 4, "billing", 1500.0, 1600.0 + TRICKY[0], "phone", "phone", "support_line", 1,
         5.0, TRICKY[1], 1, 0, 0, 0, "none", "resolved", 100.0 + TRICKY[0]),
    ]
    surveys = _typed("surveys.csv", [
        (1, 1, 1, "post_interaction", 26.0, 1, NA, 2, 5),
        (2, 1, 2, "post_interaction", 401.0, 1, NA, 6, 2),
        (3, 2, 3, "post_interaction", 231.0, 0, NA, NA, NA),
        (4, 1, NA, "periodic", 10000.0, 1, 10, NA, NA),
        (5, 2, NA, "periodic", 10000.0, 1, 9, NA, NA),
        (6, 3, NA, "periodic", 10000.0 + TRICKY[2], 1, 7, NA, NA),
        (7, 4, NA, "periodic", TRICKY[3], 1, 3, NA, NA),
        (8, 3, NA, "periodic", TRICKY[4], 0, NA, NA, NA),
        (9, 4, 5, "post_interaction", 1601.0, 1, NA, 4, 4),
    ])
    truth = {"p_promoter": 0.4, "segments": {"young": [1, 2]}, "x": TRICKY[0]}
    return ObservedData(_typed("episodes.csv", ep), surveys, customers, truth, Path("."))


@pytest.fixture
def valid_dir(tmp_path: Path) -> Path:
    return write_observed(valid_data(), tmp_path / "observed")


def test_round_trip_is_exact(valid_dir: Path) -> None:
    data, loaded = valid_data(), load_observed(valid_dir)
    for name in ("customers", "episodes", "surveys"):
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(data, name),
                                      check_exact=True)
    assert loaded.truth == data.truth and loaded.path == valid_dir
    bits = loaded.episodes["handle_min"].to_numpy().view(np.int64)
    assert bits[4] == np.float64(TRICKY[1]).view(np.int64)
    again = load_observed(write_observed(loaded, valid_dir.parent / "again"))
    for name in ("customers", "episodes", "surveys"):
        left, right = getattr(again, name), getattr(loaded, name)
        pd.testing.assert_frame_equal(left, right, check_exact=True)
        floats = [c for c in left.columns if left[c].dtype == np.float64]
        assert np.array_equal(left[floats].to_numpy().view(np.int64),
                              right[floats].to_numpy().view(np.int64))
    assert sorted(p.name for p in valid_dir.iterdir()) == [
        "customers.csv", "episodes.csv", "surveys.csv", "truth.json"]  # no temp files left


def test_observed_metrics_hand_computed(valid_dir: Path) -> None:
    m = observed_metrics(load_observed(valid_dir))
    assert m["nps"] == 25.0  # periodic answers 10, 9, 7, 3: 2 promoters, 1 detractor of 4
    assert m["ces"] == 4.0  # post-interaction CES 2, 6, 4
    assert m["csat"] == pytest.approx(200 / 3)  # CSAT 5, 2, 4: 2 positive of 3
    assert m["survey_response_rate"] == pytest.approx(7 / 9)
    assert m["churn_rate"] == pytest.approx(2 / 3)  # 2 churns in 129600 min = 3 x 30 days
    assert m["retention"] == 0.5
    assert m["revenue_per_customer"] == pytest.approx((120.5 + 30.0 + 1 / 3) / 4)
    assert m["fcr"] == 0.4  # episodes 1 and 5 resolved at one contact, of 5
    assert m["mean_wait"] == pytest.approx((3.25 + 0.1 + 30.0 + 0.0 + 5.0) / 5)
    assert m["needs"] == 5.0
    assert all(v is None or type(v) is float for v in m.values())


def test_metrics_undefined_are_none(valid_dir: Path) -> None:
    data = load_observed(valid_dir)
    data.surveys = data.surveys.iloc[:0]
    data.episodes = data.episodes.iloc[:0]
    m = observed_metrics(data)
    assert m["nps"] is m["ces"] is m["csat"] is m["survey_response_rate"] is None
    assert m["fcr"] is m["mean_wait"] is None and m["needs"] == 0.0


def test_schemas_validate_frames_directly() -> None:
    data = valid_data()
    customers_schema().validate(data.customers)
    episodes_schema(data.customers["customer_id"]).validate(data.episodes)
    surveys_schema(data.customers["customer_id"], data.episodes).validate(data.surveys)


def test_truth_optional_and_stale_truth_removed(valid_dir: Path) -> None:
    data = load_observed(valid_dir)
    data.truth = None
    write_observed(data, valid_dir)
    assert not (valid_dir / "truth.json").exists() and load_observed(valid_dir).truth is None


def test_invalid_frame_is_not_written(valid_dir: Path) -> None:
    data, before = valid_data(), (valid_dir / "episodes.csv").read_bytes()
    data.episodes.loc[2, "wait_min"] = -1.0
    with pytest.raises(DataError) as err:
        write_observed(data, valid_dir)
    assert (err.value.file, err.value.row, err.value.column) == ("episodes.csv", 4, "wait_min")
    assert (valid_dir / "episodes.csv").read_bytes() == before


def test_bom_crlf_and_blank_lines_are_accepted(valid_dir: Path) -> None:
    path = valid_dir / "surveys.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n") + b"\r\n")
    assert len(load_observed(valid_dir).surveys) == 9


# --- malformed variants -------------------------------------------------------------------

Files = dict[str, bytes]


def cell(file: str, line: int, column: str, value: str) -> Callable[[Files], None]:
    """Set one cell (the valid set has no quoted fields, so a split on commas is exact)."""
    def edit(files: Files) -> None:
        lines = files[file].decode().split("\n")
        header, fields = lines[0].split(","), lines[line - 1].split(",")
        fields[header.index(column)] = value
        lines[line - 1] = ",".join(fields)
        files[file] = "\n".join(lines).encode()
    return edit


def replace(file: str, old: bytes, new: bytes, count: int = 1) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        assert old in files[file]
        files[file] = files[file].replace(old, new, count)
    return edit


def set_file(file: str, content: bytes | None) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        files[file] = content
    return edit


def append_copy(file: str, line: int) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        files[file] += files[file].split(b"\n")[line - 1] + b"\n"
    return edit


def drop_column(file: str, column: str) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        rows = [r.split(",") for r in files[file].decode().rstrip("\n").split("\n")]
        i = rows[0].index(column)
        files[file] = "".join(",".join(r[:i] + r[i + 1:]) + "\n" for r in rows).encode()
    return edit


@dataclass(frozen=True)
class Bad:
    """A malformed variant and where its error must point (value: a substring of the message)."""

    id: str
    edit: Callable[[Files], None]
    file: str
    row: int | None
    column: str | None
    value: str | None


E, S, C = "episodes.csv", "surveys.csv", "customers.csv"
BAD = [
    Bad("missing-column", drop_column(E, "wait_min"), E, 1, "wait_min", None),
    Bad("renamed-column", replace(E, b"wait_min", b"wiat_min"), E, 1, "wait_min", "wiat_min"),
    Bad("unexpected-column", replace(C, b"revenue\n", b"revenue,vip\n"), C, 1, "vip", "vip"),
    Bad("nps-above-10", cell(S, 5, "nps", "11"), S, 5, "nps", "value 11: must be <= 10"),
    Bad("nps-negative", cell(S, 6, "nps", "-1"), S, 6, "nps", "value -1: must be >= 0"),
    Bad("ces-above-7", cell(S, 2, "ces", "8"), S, 2, "ces", "value 8: must be <= 7"),
    Bad("ces-zero", cell(S, 3, "ces", "0"), S, 3, "ces", "value 0: must be >= 1"),
    Bad("csat-above-5", cell(S, 10, "csat", "6"), S, 10, "csat", "value 6: must be <= 5"),
    Bad("unknown-customer-episodes", cell(E, 4, "customer_id", "99"), E, 4, "customer_id",
        "value 99: unknown customer_id"),
    Bad("unknown-customer-surveys", cell(S, 7, "customer_id", "77"), S, 7, "customer_id",
        "value 77: unknown customer_id"),
    Bad("unknown-customer-post-survey", cell(S, 2, "customer_id", "77"), S, 2, "customer_id",
        "value 77: unknown customer_id"),
    Bad("unknown-episode", cell(S, 3, "episode_id", "42"), S, 3, "episode_id",
        "value 42: unknown episode_id"),
    Bad("survey-of-another-customer", cell(S, 3, "customer_id", "2"), S, 3, "customer_id",
        "value 2: must be the customer_id of its episode"),
    Bad("duplicate-row", append_copy(E, 3), E, 7, "episode_id", "value 2: duplicate row: "
        "same as line 3"),
    Bad("duplicate-id", cell(S, 4, "survey_id", "1"), S, 4, "survey_id",
        "value 1: duplicate survey_id: already used at line 2"),
    Bad("duplicate-customer", cell(C, 5, "customer_id", "3"), C, 5, "customer_id", "value 3"),
    Bad("negative-wait", cell(E, 3, "wait_min", "-3.0"), E, 3, "wait_min",
        "value -3.0: must be >= 0"),
    Bad("negative-handle", cell(E, 2, "handle_min", "-0.5"), E, 2, "handle_min",
        "value -0.5: must be >= 0"),
    Bad("end-before-start", cell(E, 2, "end_min", "5.0"), E, 2, "end_min",
        "value 5.0: must be >= start_min"),
    Bad("churn-before-start", cell(C, 3, "churn_min", "50.0"), C, 3, "churn_min", "value 50.0"),
    Bad("churn-after-censoring", cell(C, 5, "churn_min", "50000.0"), C, 5, "churn_min",
        "value 50000.0: must be <= censored_min"),
    Bad("empty-episodes", set_file(E, b""), E, None, None, "empty file"),
    Bad("blank-surveys", set_file(S, b"\n \n"), S, None, None, "empty file"),
    Bad("customers-header-only", set_file(C, b"customer_id,segment,start_min,churn_min,"
        b"censored_min,revenue\n"), C, None, None, "no customers"),
    Bad("latin-1-byte", replace(E, b"delivery", b"livr\xe9e"), E, 5, "reason",
        r"value livr\xe9e: not valid UTF-8 text (byte 0xE9 at byte offset"),
    Bad("latin-1-header", replace(C, b"segment", b"s\xe9gment"), C, 1, None, "byte 0xE9"),
    Bad("text-in-float", cell(E, 3, "wait_min", "abc"), E, 3, "wait_min",
        "value abc: not a number"),
    Bad("text-in-int", cell(E, 6, "contacts", "one"), E, 6, "contacts",
        "value one: not an integer"),
    Bad("fraction-in-int", cell(E, 6, "steps", "2.5"), E, 6, "steps",
        "value 2.5: must be an integer"),
    Bad("infinite-float", cell(C, 2, "revenue", "1e999"), C, 2, "revenue",
        "value 1e999: must be a finite number"),
    Bad("missing-file", set_file(S, None), S, None, None, "file not found"),
    Bad("bad-outcome", cell(E, 5, "outcome", "done"), E, 5, "outcome", "value done: must be one"),
    Bad("bad-bot", cell(E, 2, "bot", "maybe"), E, 2, "bot", "value maybe: must be one of none"),
    Bad("bad-kind", cell(S, 8, "kind", "weekly"), S, 8, "kind", "value weekly: must be one of"),
    Bad("bad-answered", cell(S, 9, "answered", "2"), S, 9, "answered", "value 2: must be 0 or 1"),
    Bad("ttr-unresolved", cell(E, 4, "ttr_min", "12.0"), E, 4, "ttr_min",
        "value 12.0: must be empty unless outcome is resolved"),
    Bad("ttr-missing-resolved", cell(E, 2, "ttr_min", ""), E, 2, "ttr_min",
        "value (empty): required when outcome is resolved"),
    Bad("answered-without-csat", cell(S, 2, "csat", ""), S, 2, "csat",
        "value (empty): required for an answered post_interaction survey"),
    Bad("answered-without-nps", cell(S, 5, "nps", ""), S, 5, "nps",
        "value (empty): required for an answered periodic survey"),
    Bad("unanswered-with-score", cell(S, 4, "ces", "3"), S, 4, "ces",
        "value 3: must be empty for an unanswered survey"),
    Bad("nps-on-post-survey", cell(S, 2, "nps", "8"), S, 2, "nps", "value 8: must be empty"),
    Bad("periodic-with-episode", cell(S, 6, "episode_id", "1"), S, 6, "episode_id",
        "value 1: must be empty for a periodic survey"),
    Bad("post-without-episode", cell(S, 10, "episode_id", ""), S, 10, "episode_id",
        "value (empty): required for a post_interaction survey"),
    Bad("missing-required", cell(C, 3, "segment", ""), C, 3, "segment", "value (empty): missing"),
    Bad("missing-required-int", cell(E, 4, "contacts", ""), E, 4, "contacts", "value (empty)"),
    Bad("short-row", replace(C, b"\n3,young,0.0,,43200.0,", b"\n3,young\n#"), C, 4, "start_min",
        "row has 2 fields, the header has 6"),
    Bad("first-problem-wins", lambda f: (cell(E, 5, "wait_min", "-1")(f),
                                         cell(E, 3, "bot", "x")(f)), E, 3, "bot", "value x"),
    Bad("truth-not-json", set_file("truth.json", b'{"a": 1,\n}'), "truth.json", 2, None,
        "not valid JSON"),
    Bad("truth-not-object", set_file("truth.json", b"[1, 2]"), "truth.json", None, None,
        "must be a JSON object"),
]


@pytest.mark.parametrize("bad", [pytest.param(b, id=b.id) for b in BAD])
def test_malformed_variant_is_located(valid_dir: Path, bad: Bad) -> None:
    files = {p.name: p.read_bytes() for p in valid_dir.iterdir()}
    bad.edit(files)
    for name, content in files.items():
        if content is None:
            (valid_dir / name).unlink()
        else:
            (valid_dir / name).write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_observed(valid_dir)
    err = caught.value
    assert (err.file, err.row, err.column) == (bad.file, bad.row, bad.column), str(err)
    message = str(err)
    assert message.startswith(bad.file)
    if bad.row is not None:
        assert f"line {bad.row}" in message
    if bad.column is not None:
        assert f"column {bad.column}" in message
    if bad.value is not None:
        assert bad.value in message
    assert "\n" not in message and "Traceback" not in message


def test_quoted_text_round_trips_and_keeps_line_numbers(tmp_path: Path) -> None:
    data = valid_data()
    data.episodes.loc[1, "reason"] = 'billing, "urgent"\nsecond line'
    path = write_observed(data, tmp_path / "quoted")
    pd.testing.assert_frame_equal(load_observed(path).episodes, data.episodes, check_exact=True)
    text = (path / E).read_text().replace(",escalated,", ",bogus,")  # episode 2: lines 3-4
    (path / E).write_text(text)
    with pytest.raises(DataError) as caught:
        load_observed(path)
    assert (caught.value.row, caught.value.column, caught.value.value) == (3, "bot", "bogus")
    (path / E).write_text(text.replace(",bogus,", ",escalated,").replace(",gave_up,", ",x,"))
    with pytest.raises(DataError) as caught:
        load_observed(path)
    assert (caught.value.row, caught.value.column) == (6, "outcome")  # episode 4, one line down


def test_message_is_one_line_and_pickles(valid_dir: Path) -> None:
    cell(E, 3, "wait_min", "-3.0")(files := {E: (valid_dir / E).read_bytes()})
    (valid_dir / E).write_bytes(files[E])
    with pytest.raises(DataError) as caught:
        load_observed(valid_dir)
    err = caught.value
    assert str(err) == "episodes.csv, line 3, column wait_min: value -3.0: must be >= 0"
    assert len(str(err).splitlines()) == 1 and isinstance(err, ValueError)
    back = pickle.loads(pickle.dumps(err))
    assert (back.file, back.row, back.column, back.value, back.reason, str(back)) == (
        err.file, err.row, err.column, err.value, err.reason, str(err))


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="directory not found"):
        load_observed(tmp_path / "nowhere")
