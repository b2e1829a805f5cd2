"""Malformed contact logs and mappings are refused before any work, naming file, line, column
and value (must-show 6: each case below is one malformed log or mapping)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cxsim.data import DataError
from cxsim.data.contacts import load_mapping, read_contacts

HEADER = ("contact_id,customer_id,channel,queue,arrival,queue_entry,queue_exit,service_start,"
          "service_end,outcome,agent_id,case_id,reason,priority,transfer_from")
ROWS = [
    "c1,k1,phone,sales,10.5,10.5,12.0,12.0,15.25,served,a1,,billing,1,",
    "c2,k2,phone,sales,11.0,11.0,14.0,,,abandoned,,,billing,0,",
    "c3,,chat,care,20.0,,,20.0,31.0,served,a2,case9,returns,,",
    "c4,k1,phone,care,30.0,30.0,30.5,30.5,40.0,transferred,a1,,billing,2,",
]
TECH_HEADER = ("vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\t"
               "vru_time\tq_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver")
TECH_ROWS = [
    "AA0101\t33116\t9664491\t2\tPS\t990101\t0:00:31\t0:00:36\t5\t0:00:36\t0:03:09\t153\tHANG"
    "\t0:00:00\t0:00:00\t0\tNO_SERVER",
    "AA0101\t33117\t27\t1\tPS\t990101\t7:10:00\t7:10:20\t20\t7:10:20\t7:11:00\t40\tAGENT"
    "\t7:11:00\t7:15:00\t240\tMICHAL",
    "AA0102\t33118\t0\t0\tNE\t990101\t23:59:50\t23:59:58\t8\t0:00:00\t0:00:00\t0\tAGENT"
    "\t23:59:58\t0:04:10\t252\tDORIT",
]
ACD_HEADER = ("ContactID;CustomerRef;Media;Skill;Started;WaitSec;TalkSec;AgentLogin;Disposition;"
              "CaseNo;Topic;TransferredFrom")
ACD_ROWS = [
    "1;K1;VOICE;Sales;05/03/2024 09:00:00;30;240;ann;ANSWERED;C1;billing;-",
    "2;K2;VOICE;Sales;05/03/2024 09:01:00;95;0;-;ABANDONED;;billing;-",
    "3;K3;CHAT;Care;05/03/2024 09:02:00;10;600;bob;ANSWERED;C2;returns;-",
]


def canon(*edits: tuple[int, str]) -> str:
    """The canonical log with line ``i`` (1 = header) replaced."""
    lines = [HEADER, *ROWS]
    for i, text in edits:
        lines[i - 1] = text
    return "\n".join(lines) + "\n"


def tech(*edits: tuple[int, str]) -> str:
    lines = [TECH_HEADER, *TECH_ROWS]
    for i, text in edits:
        lines[i - 1] = text
    return "\r\n".join(lines) + "\r\n"


def acd(*edits: tuple[int, str]) -> str:
    lines = [ACD_HEADER, *ACD_ROWS]
    for i, text in edits:
        lines[i - 1] = text
    return "\n".join(lines) + "\n"


def cell(text: str, line: int, column: int, value: str, sep: str = ",") -> tuple[int, str]:
    """Edit ``(line, text)`` replacing one cell of line ``line`` of ``text``."""
    parts = text.splitlines()[line - 1].split(sep)
    parts[column] = value
    return line, sep.join(parts)


# (id, mapping, file content (str or bytes), line, column, value, words of the reason)
CASES = [
    ("empty-file", "canonical", b"", None, None, None, "empty file"),
    ("blank-file", "canonical", b"\n \n\n", None, None, None, "empty file"),
    ("header-only", "canonical", HEADER + "\n", 1, None, None, "no rows"),
    ("missing-column", "canonical", canon((1, HEADER.replace(",arrival,", ",arrivl,")) ,),
     16, "columns.arrival", "arrival", "lacks"),
    ("wrong-separator", "canonical", canon().replace(",", ";"), 1, None, None,
     "wrong separator"),
    ("binary-file", "canonical", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None, None, None,
     "binary file"),
    ("not-utf8", "canonical", canon((3, ROWS[1].replace("billing", "factur\xe9"))).encode(
        "latin-1"), 3, "reason", "factur\\xe9", "not valid UTF-8"),
    ("utf16", "canonical", canon().encode("utf-16"), None, None, None, "UTF-16"),
    ("zip-archive", "canonical", b"PK\x03\x04" + b"\x00" * 30, None, None, None, "zip"),
    ("damaged-gzip", "canonical", b"\x1f\x8b\x08\x00garbage", None, None, None, "gzip"),
    ("too-few-fields", "canonical", canon((4, "c3,,chat,care,20.0")), 4, "queue_entry", None,
     "5 fields"),
    ("too-many-fields", "canonical", canon((2, ROWS[0] + ",extra")), 2, None, "extra",
     "16 fields"),
    ("blank-looking-line", "canonical", canon((3, "   ")), 3, "customer_id", None, "1 fields"),
    ("unclosed-quote", "canonical", canon((3, ROWS[1].replace("billing", '"billing'))), 3,
     None, None, "never closed"),
    ("cr-inside-line", "canonical", canon((3, ROWS[1].replace("billing", "bil\rling"))), 3,
     None, None, "carriage return"),
    ("cr-only-line-ends", "canonical", canon().replace("\n", "\r"), 1, None, None, "CR only"),
    ("duplicate-header", "canonical", canon((1, HEADER.replace("case_id", "agent_id"))), 1,
     "agent_id", "agent_id", "duplicate column"),
    ("unparseable-minutes", "canonical", canon(cell(canon(), 3, 6, "12:00")), 3, "queue_exit",
     "12:00", "not a number"),
    ("missing-arrival", "canonical", canon(cell(canon(), 4, 4, "")), 4, "arrival", "",
     "missing value"),
    ("missing-outcome", "canonical", canon(cell(canon(), 2, 9, "")), 2, "outcome", "",
     "missing value"),
    ("unknown-outcome", "canonical", canon(cell(canon(), 5, 9, "done")), 5, "outcome", "done",
     "unknown outcome"),
    ("before-origin", "canonical", canon(cell(canon(), 2, 4, "-3.0")), 2, "arrival", "-3.0",
     "before the origin"),
    ("priority-not-int", "canonical", canon(cell(canon(), 3, 13, "high")), 3, "priority",
     "high", "not an integer"),
    ("infinite-time", "canonical", canon(cell(canon(), 2, 8, "inf")), 2, "service_end", "inf",
     "not a number"),
    ("duplicate-contact-id", "canonical", canon(cell(canon(), 5, 0, "c2")), 5, "contact_id",
     "c2", "already used at line 3"),
    ("end-before-start", "canonical", "\n".join([HEADER] + [
        f"c{i},k{i},phone,q,{10 * i}.0,,,{10 * i + 2}.0,{10 * i + 1}.0,served,a1,,r,," for i in
        range(1, 6)]) + "\n", 2, "service_end", "11.0", "contradict themselves"),
    ("negative-duration", "acd_example", acd(cell(acd(), 3, 6, "-12", ";")), 3, "TalkSec",
     "-12", "negative duration"),
    ("duration-not-number", "acd_example", acd(cell(acd(), 2, 5, "1m30", ";")), 2, "WaitSec",
     "1m30", "not a number"),
    ("invalid-day-first-date", "acd_example", acd(cell(acd(), 4, 4, "31/02/2024 10:00:00",
                                                       ";")),
     4, "Started", "31/02/2024 10:00:00", "out of range"),
    ("us-date-in-day-first-log", "acd_example", acd(cell(acd(), 2, 4, "2024-03-05 09:00:00",
                                                         ";")),
     2, "Started", "2024-03-05 09:00:00", "not a date and time in format %d/%m/%Y"),
    ("technion-bad-date", "technion", tech(cell(tech(), 3, 5, "991332", "\t")), 3, "date",
     "991332", "out of range"),
    ("technion-hour-25", "technion", tech(cell(tech(), 2, 10, "25:61:00", "\t")), 2, "q_exit",
     "25:61:00", "out of range"),
    ("technion-short-time", "technion", tech(cell(tech(), 4, 6, "7:5", "\t")), 4, "vru_entry",
     "7:5", "not a time of day in format %H:%M:%S"),
    ("technion-unknown-outcome", "technion", tech(cell(tech(), 3, 12, "BUSY", "\t")), 3,
     "outcome", "BUSY", "maps AGENT, HANG (values.outcome) and excludes PHANTOM (phantom)"),
    ("technion-missing-date", "technion", tech(cell(tech(), 3, 5, "", "\t")), 3, "date", "",
     "missing date"),
    ("technion-only-phantoms", "technion", tech(*(
        (i, TECH_ROWS[i - 2].replace("HANG", "PHANTOM").replace("AGENT", "PHANTOM"))
        for i in (2, 3, 4))), None, None, None,
     "no contacts left: all 3 rows were set apart ({'phantom': 3})"),
    ("technion-lf-where-crlf-said", "technion", tech().replace("\r\n", "\n"), 1, None, None,
     "line ends are LF, but the mapping says CRLF"),
]
OVERRIDES = {"technion-lf-where-crlf-said": {"file": {"line_end": "crlf"}}}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_log_is_refused_with_its_location(case, tmp_path: Path) -> None:
    name, mapping, content, line, column, value, words = case
    path = tmp_path / "log.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(DataError) as info:
        read_contacts(path, mapping, overrides=OVERRIDES.get(name))
    err = info.value
    expected_file = "canonical.yaml" if name == "missing-column" else "log.csv"
    assert err.file == expected_file, str(err)
    assert (err.row, err.column) == (line, column), str(err)
    if value is not None:
        assert err.value == value, str(err)
    assert words in err.reason, str(err)
    assert str(err).count("\n") == 0


def test_duplicate_rows_refused_when_the_policy_says_so(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(canon() + ROWS[2] + "\n")
    assert read_contacts(path).counts["excluded"] == {"duplicate_row": 1}
    with pytest.raises(DataError, match="line 6, column contact_id: value c3: duplicate row"):
        read_contacts(path, overrides={"policy": {"duplicate_rows": "error"}})


def test_missing_and_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.csv: file not found"):
        read_contacts(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="not a file"):
        read_contacts(tmp_path)
    ok = tmp_path / "log.csv.gz"
    ok.write_bytes(gzip.compress(canon().encode()))
    assert len(read_contacts(ok).contacts) == 4


# (id, YAML text of a user mapping, line, key, value, words)
MAPPING_CASES = [
    ("unknown-key", "extends: canonical\ntimezon: UTC\n", 2, "timezon", "timezon",
     "did you mean timezone?"),
    ("unknown-canonical-column", "extends: canonical\ncolumns:\n  arival: start\n", 3,
     "columns.arival", "arival", "unknown key"),
    ("bad-format-code", "extends: canonical\ntimes:\n  format: '%Y-%Q'\n", 3, "times.format",
     "%Y-%Q", "unknown code %Q"),
    ("time-of-day-without-date", "extends: canonical\ntimes:\n  format: '%H:%M'\n", 3,
     "times.format", "%H:%M", "needs times.date"),
    ("bad-timezone", "extends: canonical\ntimezone: Mars/Olympus\n", 2, "timezone",
     "Mars/Olympus", "unknown time zone"),
    ("outcome-to-unknown", "extends: technion\nvalues:\n  outcome:\n    AGENT: done\n", 4,
     "values.outcome.AGENT", "done", "must map to one of served"),
    ("two-char-separator", "extends: canonical\nfile:\n  separator: ';;'\n", 3,
     "file.separator", ";;", "one character"),
    ("share-out-of-range", "extends: canonical\npolicy:\n  max_unusable_share: 1.5\n", 3,
     "policy.max_unusable_share", "1.5", "[0, 1]"),
    ("yaml-syntax", "columns:\n  arrival: [start\n", 3, None, None, "not valid YAML"),
    ("constant-and-column", "extends: canonical\nconstants:\n  queue: main\n", 3,
     "constants.queue", "main", "also mapped"),
    ("duration-and-times", "extends: canonical\ndurations:\n  wait:\n    column: w\n", 3,
     "durations.wait", "queue_entry", "already mapped"),
    ("arrival-unmapped", "extends: canonical\ncolumns:\n  arrival: null\n", 2, "columns", None,
     "arrival is required"),
    ("extends-cycle", "extends: me.yaml\n", 1, "extends", "me.yaml", "without a cycle"),
    ("duplicate-key", "timezone: UTC\ntimezone: CET\n", 2, "timezone", "timezone",
     "duplicate key"),
    ("surveys-mapping-for-contacts", "extends: surveys_example\n", 2, "kind", "surveys",
     "reads surveys, not contacts"),
]


@pytest.mark.parametrize("case", MAPPING_CASES, ids=[c[0] for c in MAPPING_CASES])
def test_malformed_mapping_is_refused_with_its_key(case, tmp_path: Path) -> None:
    name, text, line, key, value, words = case
    path = tmp_path / "me.yaml"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load_mapping(str(path), kind="contacts")
    err = info.value
    if name == "surveys-mapping-for-contacts":  # the key was set by the extended mapping
        assert err.file == "surveys_example.yaml", str(err)
    else:
        assert (err.file, err.row) == ("me.yaml", line), str(err)
    assert err.column == key, str(err)
    if value is not None:
        assert err.value == value, str(err)
    assert words in err.reason, str(err)


def test_unknown_mapping_name_lists_the_shipped_ones() -> None:
    with pytest.raises(DataError, match="no such mapping.*technion"):
        load_mapping("technium")
