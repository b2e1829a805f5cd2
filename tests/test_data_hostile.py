"""Hostile observed-data inputs (issue 22): each is refused with file, line, column and value
before any work - ids and magnitudes that would exhaust memory, NUL bytes, directories and
FIFOs where files belong (never opened, so never a hang), impossible timelines across files,
files that are valid but hold nothing to fit, malformed cohort files.

Cheap: every case validates without sampling; three go through ``cxsim-fit`` to show exit 2,
no traceback and nothing written.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from apprun import run_app
from test_data import Files, cell, replace, set_file, valid_data

from cxsim.calibrate.micro.prepare import prepare
from cxsim.data import (
    FADER_HARDIE_2007,
    DataError,
    check_fittable,
    load_cohorts,
    load_observed,
    with_row_ids,
    write_observed,
)
from cxsim.data.synthetic import example_path

E, S, C, T = "episodes.csv", "surveys.csv", "customers.csv", "truth.json"


def special(name: str, make: Callable[[Path], None]) -> Callable[[Path], None]:
    """Replace ``name`` in the directory by what ``make`` creates (a directory, a FIFO...)."""
    def edit(directory: Path) -> None:
        (directory / name).unlink(missing_ok=True)
        make(directory / name)
    return edit


def fifo(path: Path) -> None:
    os.mkfifo(path)


def socket_file(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    s.close()


def to_fifo(path: Path) -> None:
    os.mkfifo(path.with_name(".target"))
    path.symlink_to(".target")


def dangling(path: Path) -> None:
    path.symlink_to("nowhere.csv")


def header_only(file: str) -> Callable[[Files], None]:
    """Keep the header line only."""
    def edit(files: Files) -> None:
        files[file] = files[file].split(b"\n", 1)[0] + b"\n"
    return edit


def unanswer(kind: str | None = None) -> Callable[[Files], None]:
    """Every survey (of ``kind``) unanswered, its answers emptied."""
    def edit(files: Files) -> None:
        lines = files[S].decode().rstrip("\n").split("\n")
        head = lines[0].split(",")
        out = [lines[0]]
        for line in lines[1:]:
            row = line.split(",")
            if kind is None or row[head.index("kind")] == kind:
                row[head.index("answered")] = "0"
                for q in ("nps", "ces", "csat"):
                    row[head.index(q)] = ""
            out.append(",".join(row))
        files[S] = ("\n".join(out) + "\n").encode()
    return edit


def cells(*edits: Callable[[Files], None]) -> Callable[[Files], None]:
    def edit(files: Files) -> None:
        for e in edits:
            e(files)
    return edit


@dataclass(frozen=True)
class Bad:
    """A hostile variant: a bytes edit or a filesystem edit, and where the error points."""

    id: str
    file: str
    row: int | None
    column: str | None
    value: str | None  # a substring of the message
    edit: Callable[[Files], None] | None = None
    fs: Callable[[Path], None] | None = None
    fittable: bool = False  # loads, but check_fittable must refuse it


TWO53 = str(2**53 + 1)
BAD = [
    # -- ids: negative, beyond 2**53, not integers -------------------------------------------
    Bad("customer-id-negative", C, 2, "customer_id", "value -1: must be >= 0",
        cell(C, 2, "customer_id", "-1")),
    Bad("customer-id-above-2**53", C, 3, "customer_id", f"value {TWO53}: must be <= "
        f"{2**53}", cell(C, 3, "customer_id", TWO53)),
    Bad("customer-id-19-digits", C, 4, "customer_id", "integer out of range",
        cell(C, 4, "customer_id", "1000000000000000000")),
    Bad("customer-id-fraction", C, 5, "customer_id", "value 1.5: must be an integer",
        cell(C, 5, "customer_id", "1.5")),
    Bad("customer-id-exponent", C, 2, "customer_id", "value 1e15: must be an integer",
        cell(C, 2, "customer_id", "1e15")),
    Bad("episode-id-negative", E, 3, "episode_id", "value -3: must be >= 0",
        cell(E, 3, "episode_id", "-3")),
    Bad("episode-customer-negative", E, 4, "customer_id", "value -2: must be >= 0",
        cell(E, 4, "customer_id", "-2")),
    Bad("survey-id-negative", S, 2, "survey_id", "value -1: must be >= 0",
        cell(S, 2, "survey_id", "-1")),
    Bad("survey-episode-negative", S, 3, "episode_id", "value -1: must be >= 0",
        cell(S, 3, "episode_id", "-1")),
    Bad("survey-customer-huge", S, 5, "customer_id", "must be <= ",
        cell(S, 5, "customer_id", "99999999999999999")),
    Bad("episode-customer-missing", E, 2, "customer_id", "value (empty): missing",
        cell(E, 2, "customer_id", "")),
    # -- magnitudes ----------------------------------------------------------------------------
    Bad("censored-1e308", C, 2, "censored_min", "value 1e308: must be <= 100000000",
        cell(C, 2, "censored_min", "1e308")),
    Bad("start-1e9", C, 3, "start_min", "value 1e9: must be <= 100000000",
        cell(C, 3, "start_min", "1e9")),
    Bad("churn-1e300", C, 5, "churn_min", "value 1e300: must be <= 100000000",
        cell(C, 5, "churn_min", "1e300")),
    Bad("end-1e308", E, 2, "end_min", "value 1e308: must be <= 100000000",
        cell(E, 2, "end_min", "1e308")),
    Bad("wait-1e200", E, 3, "wait_min", "value 1e200", cell(E, 3, "wait_min", "1e200")),
    Bad("handle-1e10", E, 4, "handle_min", "value 1e10", cell(E, 4, "handle_min", "1e10")),
    Bad("ttr-1e12", E, 2, "ttr_min", "value 1e12: must be <= 100000000",
        cell(E, 2, "ttr_min", "1e12")),
    Bad("sent-1e308", S, 6, "sent_min", "value 1e308: must be <= 100000000",
        cell(S, 6, "sent_min", "1e308")),
    Bad("start-nan", C, 2, "start_min", "value nan: not a number", cell(C, 2, "start_min", "nan")),
    Bad("start-inf", C, 2, "start_min", "value inf: not a number", cell(C, 2, "start_min", "inf")),
    Bad("revenue-nan", C, 4, "revenue", "value NaN: not a number", cell(C, 4, "revenue", "NaN")),
    Bad("start-negative", C, 3, "start_min", "value -0.5: must be >= 0",
        cell(C, 3, "start_min", "-0.5")),
    Bad("contacts-20-digits", E, 5, "contacts", "integer out of range",
        cell(E, 5, "contacts", "99999999999999999999")),
    Bad("nps-fraction", S, 5, "nps", "value 7.5: must be an integer", cell(S, 5, "nps", "7.5")),
    Bad("answered-yes", S, 4, "answered", "value yes: not an integer",
        cell(S, 4, "answered", "yes")),
    Bad("kind-case", S, 6, "kind", "value Periodic: must be one of",
        cell(S, 6, "kind", "Periodic")),
    # -- NUL bytes -----------------------------------------------------------------------------
    Bad("nul-in-segment", C, 3, "segment", "NUL byte", cell(C, 3, "segment", "se\0nior")),
    Bad("nul-in-header", E, 1, None, "NUL byte", replace(E, b"wait_min", b"wait\0min")),
    Bad("nul-in-float", S, 4, "sent_min", "NUL byte", cell(S, 4, "sent_min", "231.0\0")),
    Bad("nul-at-end", C, 6, "customer_id", "NUL byte", lambda f: f.__setitem__(C, f[C] + b"\0")),
    Bad("nul-in-truth", T, 1, None, "NUL byte", set_file(T, b'{"a": "\0"}')),
    Bad("latin-1-in-surveys", S, 5, "kind", "byte 0xE9",
        replace(S, b"periodic", b"p\xe9riodic")),
    # -- empty files -----------------------------------------------------------------------------
    Bad("customers-empty", C, None, None, "empty file: no header row", set_file(C, b"")),
    Bad("customers-bom-only", C, None, None, "empty file", set_file(C, b"\xef\xbb\xbf")),
    Bad("episodes-header-only", E, None, None, "no episodes", cells(
        header_only(E), header_only(S)), fittable=True),
    Bad("surveys-header-only", S, None, "answered", "no answered post_interaction survey",
        header_only(S), fittable=True),
    Bad("all-unanswered", S, None, "answered", "(4 sent, none answered)", unanswer(),
        fittable=True),
    Bad("periodic-unanswered", S, None, "answered", "no answered periodic survey",
        unanswer("periodic"), fittable=True),
    Bad("post-unanswered", S, None, "answered", "no answered post_interaction survey",
        unanswer("post_interaction"), fittable=True),
    Bad("unterminated-quote", E, 2, None, "malformed CSV",
        replace(E, b",billing,", b',"billing,')),
    # -- not regular files -----------------------------------------------------------------------
    Bad("customers-directory", C, None, None, "is a directory", fs=special(C, Path.mkdir)),
    Bad("episodes-fifo", E, None, None, "not a regular file", fs=special(E, fifo)),
    Bad("surveys-socket", S, None, None, "not a regular file", fs=special(S, socket_file)),
    Bad("surveys-symlink-to-fifo", S, None, None, "not a regular file", fs=special(S, to_fifo)),
    Bad("customers-dangling-symlink", C, None, None, "file not found", fs=special(C, dangling)),
    Bad("extra-csv-directory", "notes.csv", None, None, "is a directory",
        fs=special("notes.csv", Path.mkdir)),
    Bad("extra-csv-fifo", "extra.csv", None, None, "not a regular file",
        fs=special("extra.csv", fifo)),
    Bad("truth-directory", T, None, None, "is a directory", fs=special(T, Path.mkdir)),
    Bad("truth-fifo", T, None, None, "not a regular file", fs=special(T, fifo)),
    # -- impossible timelines across files ---------------------------------------------------
    Bad("episode-before-customer-start", E, 4, "start_min", "value 50.0: an episode before its "
        "customer's start_min", cell(E, 4, "start_min", "50.0")),
    Bad("episode-before-start-customer-4", E, 6, "start_min", "value 999.0: an episode before",
        cell(E, 6, "start_min", "999.0")),
    Bad("episode-after-churn", E, 4, "start_min", "value 30000.0: an episode after its "
        "customer's churn_min", cells(cell(E, 4, "start_min", "30000.0"),
                                      cell(E, 4, "end_min", "30010.0"))),
    Bad("episode-after-censoring", E, 2, "start_min", "value 50000.0: an episode after its "
        "customer's censored_min", cells(cell(E, 2, "start_min", "50000.0"),
                                         cell(E, 2, "end_min", "50010.0"))),
    Bad("survey-before-customer-start", S, 6, "sent_min", "value 50.0: a survey before its "
        "customer's start_min", cell(S, 6, "sent_min", "50.0")),
    Bad("survey-after-censoring", S, 5, "sent_min", "value 50000.0: a survey after its "
        "customer's censored_min", cell(S, 5, "sent_min", "50000.0")),
    Bad("survey-before-episode-ended", S, 2, "sent_min", "value 20.0: sent before its episode "
        "ended", cell(S, 2, "sent_min", "20.0")),
    Bad("survey-before-episode-started", S, 3, "sent_min", "value 5.0: sent before its episode",
        cell(S, 3, "sent_min", "5.0")),
    Bad("survey-of-customer-4-early", S, 10, "sent_min", "value 1500.0: sent before its episode",
        cell(S, 10, "sent_min", "1500.0")),
]


@pytest.mark.parametrize("bad", [pytest.param(b, id=b.id) for b in BAD])
def test_hostile_variant_is_refused_and_located(tmp_path: Path, bad: Bad) -> None:
    directory = write_observed(valid_data(), tmp_path / "observed")
    files = {p.name: p.read_bytes() for p in directory.iterdir()}
    if bad.edit is not None:
        bad.edit(files)
        for name, content in files.items():
            (directory / name).write_bytes(content)
    if bad.fs is not None:
        bad.fs(directory)
    if bad.fittable:
        data = load_observed(directory)
        with pytest.raises(DataError) as caught:
            check_fittable(data)
    else:
        with pytest.raises(DataError) as caught:
            load_observed(directory)
    err = caught.value
    assert (err.file, err.row, err.column) == (bad.file, bad.row, bad.column), str(err)
    assert bad.value in str(err) and "\n" not in str(err)


COHORT_HEADER = b"cohort,period,surviving\n"
BAD_COHORTS = [
    ("directory", None, "is a directory", lambda p: p.mkdir()),
    ("fifo", None, "not a regular file", fifo),
    ("missing", None, "file not found", lambda p: None),
    ("nul", 3, "NUL byte", lambda p: p.write_bytes(COHORT_HEADER + b"a,0,10\na,1,\0\n")),
    ("header-only", None, "no data rows", lambda p: p.write_bytes(COHORT_HEADER)),
    ("negative-count", 3, "must be >= 0", lambda p: p.write_bytes(COHORT_HEADER
                                                                 + b"a,0,10\na,1,-1\n")),
    ("period-exponent", 3, "must be an integer", lambda p: p.write_bytes(COHORT_HEADER
                                                                        + b"a,0,10\na,1e20,5\n")),
    ("latin-1", 2, "byte 0xE9", lambda p: p.write_bytes(COHORT_HEADER + b"\xe9,0,10\n")),
]


@pytest.mark.parametrize("name,row,reason,make", BAD_COHORTS, ids=[c[0] for c in BAD_COHORTS])
def test_hostile_cohort_file_is_refused(tmp_path: Path, name: str, row: int | None,
                                        reason: str, make: Callable[[Path], None]) -> None:
    path = tmp_path / "cohorts.csv"
    make(path)
    with pytest.raises(DataError) as caught:
        load_cohorts(path)
    assert caught.value.row == row and reason in str(caught.value), str(caught.value)
    load_cohorts(FADER_HARDIE_2007)  # the reader itself is fine


def test_ids_are_labels_a_fit_sees_the_same_arrays_whatever_the_ids(tmp_path: Path) -> None:
    """Customer ids of 10**15 and up (a 7-PiB allocation once) prepare, as the apps hand them
    to the model (``with_row_ids``), the same model arrays as 0, 1, ...: the model indexes
    customers by row, never by id."""
    data = load_observed(example_path())
    shifted = data.customers.assign(customer_id=data.customers["customer_id"] * 7 + 10**15)
    new_id = dict(zip(data.customers["customer_id"], shifted["customer_id"], strict=True))
    moved = write_observed(type(data)(
        data.episodes.assign(customer_id=data.episodes["customer_id"].map(new_id)),
        data.surveys.assign(customer_id=data.surveys["customer_id"].map(new_id)),
        shifted, data.truth, data.path), tmp_path / "moved")
    a, b = prepare(data), prepare(with_row_ids(load_observed(moved)))
    for name, value in vars(a).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, getattr(b, name), err_msg=name)


@pytest.mark.parametrize("variant", ["surveys-header-only", "episodes-fifo", "nul-in-segment"])
def test_fit_refuses_hostile_data_with_exit_2_and_writes_nothing(tmp_path: Path,
                                                                 variant: str) -> None:
    bad = next(b for b in BAD if b.id == variant)
    directory = write_observed(valid_data(), tmp_path / "observed")
    if bad.edit is not None:
        files = {p.name: p.read_bytes() for p in directory.iterdir()}
        bad.edit(files)
        for name, content in files.items():
            (directory / name).write_bytes(content)
    if bad.fs is not None:
        bad.fs(directory)
    out = tmp_path / "run"
    done = run_app("fit", f"data.dir={directory}", out=out, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and bad.value in done.stderr
    written = [p for p in out.rglob("*") if p.is_file() and ".hydra" not in p.parts]
    assert [p.name for p in written] in ([], ["fit.log"])  # Hydra's own log only
