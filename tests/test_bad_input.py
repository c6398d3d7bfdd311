"""Bad input: one test per row of the README's "Bad input" table.

Every input ends with a clear message and the documented exit code, never a traceback,
and never stops the other files from being checked. The rows that once crashed the
process (a segfault in libcst's native parser, a symlink loop) run in a subprocess, so
a regression fails the test instead of killing the test run.
"""
from __future__ import annotations

import builtins
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanlint.cli import main
from nanlint.source.nesting import MAX_DEPTH, SHALLOW, deepest_line

HAZARD = "import torch\n\n\ndef f(x):\n    return x / x.sum()\n"  # NAN102 at 5:12


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", "--no-cache", "--jobs", "1", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def run_process(*args: str | Path, cwd: Path, timeout: float = 120) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "nanlint", "check", "--no-cache", *map(str, args)]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


def findings(*args: str | Path) -> tuple[int, list[dict]]:
    code, out, _ = run("--format", "json", *args)
    return code, json.loads(out)["findings"]


def where(found: list[dict]) -> list[tuple[str, int, int, str]]:
    return sorted((Path(f["path"]).name, f["line"], f["column"], f["code"]) for f in found)


def test_syntax_error_is_nan001_where_python_puts_it_and_other_files_are_checked(tmp_path):
    (tmp_path / "broken.py").write_text("def forward(self, x:\n    return x\n")
    (tmp_path / "model.py").write_text(HAZARD)
    code, found = findings(tmp_path)
    assert code == 1
    assert where(found) == [("broken.py", 1, 12, "NAN001"), ("model.py", 5, 12, "NAN102")]
    broken = next(f for f in found if f["code"] == "NAN001")
    assert broken["message"] == "this file cannot be checked: syntax error: '(' was never closed"


def test_latin1_file_with_a_coding_cookie_is_read_as_declared(tmp_path):
    source = "# -*- coding: latin-1 -*-\nlabel = 'café'\n" + HAZARD.replace("return x", "return 'é' and x")
    (tmp_path / "latin.py").write_bytes(source.encode("latin-1"))
    code, found = findings(tmp_path / "latin.py")
    # The column counts characters, so the é before the division does not shift it.
    assert (code, where(found)) == (1, [("latin.py", 7, 20, "NAN102")])


def test_utf8_bom_is_skipped_and_positions_are_unchanged(tmp_path):
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbf" + HAZARD.encode())
    code, found = findings(tmp_path / "bom.py")
    assert (code, where(found)) == (1, [("bom.py", 5, 12, "NAN102")])


def test_bom_and_a_cookie_naming_another_encoding_is_nan001(tmp_path):
    (tmp_path / "both.py").write_bytes(b"\xef\xbb\xbf# coding: latin-1\nx = 1\n")
    code, found = findings(tmp_path / "both.py")
    assert (code, where(found)) == (1, [("both.py", 1, 1, "NAN001")])
    assert "byte-order mark, but its coding cookie names another encoding" in found[0]["message"]


def test_invalid_utf8_without_a_cookie_is_nan001_at_the_byte(tmp_path):
    (tmp_path / "bytes.py").write_bytes(b"x = 1\nname = 'caf\xe9'\n")
    code, found = findings(tmp_path / "bytes.py")
    assert (code, where(found)) == (1, [("bytes.py", 2, 12, "NAN001")])
    assert found[0]["message"] == (
        "this file cannot be checked: byte 0xe9 is not valid utf-8: add a coding cookie or re-encode the file"
    )


def test_nul_bytes_are_nan001_at_the_first_one(tmp_path):
    (tmp_path / "nul.py").write_bytes(b"x = 1\ny = 2\x00\n")
    code, found = findings(tmp_path / "nul.py")
    assert (code, where(found)) == (1, [("nul.py", 2, 6, "NAN001")])
    assert "NUL bytes" in found[0]["message"]


def test_empty_file_is_checked_and_clean(tmp_path):
    (tmp_path / "empty.py").write_bytes(b"")
    assert run(tmp_path / "empty.py")[:2] == (0, "No NaN/Inf hazards found in 1 file.\n")


def test_crlf_and_tab_indentation_give_the_same_findings_as_lf_and_spaces(tmp_path):
    (tmp_path / "unix.py").write_text(HAZARD)
    (tmp_path / "dos.py").write_bytes(HAZARD.replace("    ", "\t").replace("\n", "\r\n").encode())
    code, found = findings(tmp_path)
    assert code == 1
    # A tab is one column, so the division moves 3 columns left.
    assert where(found) == [("dos.py", 5, 9, "NAN102"), ("unix.py", 5, 12, "NAN102")]


def test_five_megabyte_generated_file(tmp_path):
    # Like a protobuf `_pb2.py`: a serialized descriptor, then code after it.
    blob = "".join(f"\\x{b:02x}" for b in os.urandom(1_250_000))
    source = f'DESCRIPTOR = b"{blob}"\n' + HAZARD
    (tmp_path / "big_pb2.py").write_text(source)
    assert os.path.getsize(tmp_path / "big_pb2.py") > 5_000_000
    code, found = findings(tmp_path / "big_pb2.py")
    assert (code, where(found)) == (1, [("big_pb2.py", 6, 12, "NAN102")])


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("x = " + "(" * 5000 + "1" + ")" * 5000, id="5000-deep-parentheses"),
        pytest.param("x = " + " + ".join(["a"] * 20_000), id="20000-term-chain"),
        pytest.param("if " + " and ".join(["a == 0"] * 20_000) + ":\n    pass", id="20000-term-condition"),
        pytest.param("x = " + "f(" * 5000 + ")" * 5000, id="5000-nested-calls"),
        pytest.param("x = (\n" + "".join(f"    'part {i}'\n" for i in range(20_000)) + ")", id="20000-strings"),
        pytest.param('x = f"{' + "(" * 3000 + ")" * 3000 + '}"', id="3000-deep-in-an-f-string"),
    ],
)
def test_deep_nesting_is_nan001_quickly_and_other_files_are_checked(tmp_path, line):
    # libcst segfaulted on 2,000 nested brackets and parsed a 3,000-term chain in 35 s.
    (tmp_path / "deep.py").write_text("import torch\n" + line + "\n")
    (tmp_path / "model.py").write_text(HAZARD)
    started = time.perf_counter()
    code, out, _ = run_process("deep.py", "model.py", "--format", "json", cwd=tmp_path, timeout=60)
    assert time.perf_counter() - started < 30
    found = json.loads(out)["findings"]
    assert code == 1
    assert where(found) == [("deep.py", 2, 1, "NAN001"), ("model.py", 5, 12, "NAN102")]
    assert "line 2 nests too deeply for nanlint's parser" in found[0]["message"]
    assert f"the limit is {MAX_DEPTH:,}" in found[0]["message"]


def test_nesting_below_the_limit_is_analysed_on_a_large_stack(tmp_path):
    chain = "y = " + " + ".join(["x"] * 400)
    assert SHALLOW < deepest_line(chain).depth <= MAX_DEPTH
    (tmp_path / "long.py").write_text(HAZARD + "    " + chain + "\n    return y / y.sum()\n")
    code, found = findings(tmp_path / "long.py")
    assert code == 1
    assert [(f["line"], f["code"]) for f in found] == [(5, "NAN102"), (7, "NAN102")]


def test_unreadable_file_is_nan001_and_other_files_are_checked(tmp_path, monkeypatch):
    locked = tmp_path / "locked.py"
    locked.write_text(HAZARD)
    (tmp_path / "model.py").write_text(HAZARD)
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anyway: the OS refusal is simulated
            _refuse_to_open(monkeypatch, locked)
        code, found = findings(tmp_path)
    finally:
        locked.chmod(0o644)
    assert code == 1
    assert where(found) == [("locked.py", 1, 1, "NAN001"), ("model.py", 5, 12, "NAN102")]
    assert found[0]["message"] == "this file cannot be checked: cannot read it (Permission denied)"


def _refuse_to_open(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    real_open = builtins.open

    def refusing(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing)
    monkeypatch.setattr(io, "open", refusing)


def test_missing_path_is_one_error_line_and_exit_2(tmp_path):
    code, out, err = run(tmp_path / "nowhere.py")
    assert (code, out, err) == (2, "", f"nanlint: error: {tmp_path / 'nowhere.py'}: no such file or directory\n")


def test_missing_path_next_to_a_real_one_still_checks_it(tmp_path):
    (tmp_path / "model.py").write_text(HAZARD)
    code, out, err = run(tmp_path / "nowhere.py", tmp_path / "model.py")
    assert code == 2
    assert err == f"nanlint: error: {tmp_path / 'nowhere.py'}: no such file or directory\n"
    assert "model.py:5:12: NAN102" in out


def test_symlink_loops_are_reported_or_walked_once(tmp_path):
    (tmp_path / "loop.py").symlink_to(tmp_path / "loop.py")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "model.py").write_text(HAZARD)
    (tmp_path / "pkg" / "again").symlink_to(tmp_path / "pkg")  # a folder containing itself
    (tmp_path / "pkg" / "up").symlink_to(tmp_path)
    code, out, err = run_process(".", "--format", "json", cwd=tmp_path, timeout=60)
    found = json.loads(out)["findings"]
    assert code == 1, err
    assert where(found) == [("loop.py", 1, 1, "NAN001"), ("model.py", 5, 12, "NAN102")]
    assert found[0]["message"] == "this file cannot be checked: cannot read it (Too many levels of symbolic links)"
    # Named explicitly, the loop is the same finding.
    code, out, _ = run_process("loop.py", cwd=tmp_path, timeout=60)
    assert code == 1 and "loop.py:1:1: NAN001" in out


def test_folder_with_20000_files(tmp_path):
    for folder in range(20):
        sub = tmp_path / f"pkg{folder}"
        sub.mkdir()
        for index in range(1000):
            (sub / f"m{index}.py").write_text(HAZARD if index == 0 else f"X = {index}\n")
    code, out, err = run_process(".", "--format", "json", cwd=tmp_path, timeout=300)
    assert (code, err) == (1, "")
    assert json.loads(out)["summary"] == {"files": 20_000, "targets": 0, "findings": 20, "by_code": {"NAN102": 20}}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_named_py_is_skipped_in_folders_and_an_error_when_named(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "model.py").write_text(HAZARD)
    code, out, _ = run_process(".", cwd=tmp_path, timeout=60)  # reading the FIFO would block forever
    assert code == 1 and "Found 1 finding in 1 file" in out
    code, out, err = run_process("pipe.py", cwd=tmp_path, timeout=60)
    assert (code, out, err) == (2, "", "nanlint: error: pipe.py: not a regular file (a FIFO, socket or device)\n")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "not a Jupyter notebook (JSONDecodeError: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "not a Jupyter notebook (no `cells` list at the top level of its JSON)"),
        ('{"metadata": {}}', "not a Jupyter notebook (no `cells` list at the top level of its JSON)"),
        ('{"cells": {}}', "not a Jupyter notebook (no `cells` list at the top level of its JSON)"),
        ('{"cells": [{"cell_type": "code", "source": 5}]}', "cell 1: `source` is neither a string nor a list"),
        ('{"cells": [{"cell_type": "code", "source": [1]}]}', "cell 1: `source` is neither a string nor a list"),
        ('{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}", "not a Jupyter notebook (its JSON nests too deeply to read)"),
        ("", "not a Jupyter notebook (JSONDecodeError: Expecting value"),
    ],
    ids=["not-json", "array", "no-cells", "cells-not-a-list", "source-number", "source-numbers", "deep-json", "empty"],
)
def test_malformed_notebook_is_nan001_and_other_files_are_checked(tmp_path, content, reason):
    (tmp_path / "broken.ipynb").write_text(content)
    (tmp_path / "model.py").write_text(HAZARD)
    code, found = findings(tmp_path)
    assert code == 1
    assert where(found) == [("broken.ipynb", 1, 1, "NAN001"), ("model.py", 5, 12, "NAN102")]
    assert found[0]["message"].startswith(f"this file cannot be checked: {reason}")


def test_notebook_that_is_not_utf8_is_nan001(tmp_path):
    (tmp_path / "latin.ipynb").write_bytes(b'{"cells": ["caf\xe9"]}')
    code, found = findings(tmp_path / "latin.ipynb")
    assert (code, where(found)) == (1, [("latin.ipynb", 1, 1, "NAN001")])
    assert "a notebook is UTF-8 JSON, but byte 15 is not UTF-8" in found[0]["message"]


def test_notebook_syntax_error_at_the_end_of_a_cell(tmp_path):
    cells = [{"cell_type": "code", "source": "def f():\n"}]
    (tmp_path / "eof.ipynb").write_text(json.dumps({"cells": cells}))
    code, found = findings(tmp_path / "eof.ipynb")
    assert code == 1
    assert [(f["code"], f["cell"]) for f in found] == [("NAN001", 1)]
    assert "expected an indented block" in found[0]["message"]


def test_pyproject_that_is_not_valid_toml_is_one_error_line_and_exit_2(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.nanlint\nselect = [\n")
    (tmp_path / "model.py").write_text(HAZARD)
    code, out, err = run(tmp_path / "model.py")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith(f"nanlint: error: {tmp_path / 'pyproject.toml'}: `<file>`: not valid TOML (")


def test_pyproject_that_is_not_utf8_is_reported_not_ignored(tmp_path):
    (tmp_path / "pyproject.toml").write_bytes(b"# \xff\n[tool.nanlint]\nselect = ['NAN1']\n")
    (tmp_path / "model.py").write_text(HAZARD)
    code, out, err = run(tmp_path / "model.py")
    assert (code, out) == (2, "")
    assert "not valid TOML" in err and "0xff" in err


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tool = 1\n", "`tool.nanlint`: this file has no [tool.nanlint] table"),
        ("[tool]\nnanlint = 5\n", "`tool.nanlint`: expected a table, got 5"),
        ("[tool.nanlint]\nselect = 5\n", "`select`: expected a list of strings, got 5"),
    ],
)
def test_config_with_wrong_types_is_one_error_line_and_exit_2(tmp_path, text, problem):
    (tmp_path / "settings.toml").write_text(text)
    (tmp_path / "model.py").write_text(HAZARD)
    code, out, err = run(tmp_path / "model.py", "--config", tmp_path / "settings.toml")
    assert (code, out, err) == (2, "", f"nanlint: error: {tmp_path / 'settings.toml'}: {problem}\n")


def test_unwritable_output_file_is_an_error_not_a_traceback(tmp_path):
    (tmp_path / "model.py").write_text(HAZARD)
    target = tmp_path / "missing-folder" / "report.json"
    code, out, err = run(tmp_path / "model.py", "-o", target)
    assert (code, out) == (2, "")
    assert err == f"nanlint: error: cannot write the report to {target} (No such file or directory)\n"


def test_an_internal_error_is_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch):
    import nanlint.report.text

    def broken(*args: object, **kwargs: object) -> str:
        raise KeyError("a formatter bug")

    monkeypatch.setattr(nanlint.report.text, "render", broken)
    (tmp_path / "model.py").write_text(HAZARD)
    result = CliRunner().invoke(main, ["check", "--no-cache", str(tmp_path / "model.py")])
    assert result.exit_code == 2
    assert result.stderr == (
        "nanlint: internal error: KeyError: 'a formatter bug' (run with --debug for the traceback; please report it)\n"
    )
    debug = CliRunner().invoke(main, ["check", "--no-cache", "--debug", str(tmp_path / "model.py")])
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.stderr and "KeyError: 'a formatter bug'" in debug.stderr


@pytest.mark.parametrize(
    ("data", "where_", "reason"),
    [
        (b"x = 'caf\xe9'\n", (1, 9), "byte 0xe9 is not valid utf-8: add a coding cookie or re-encode the file"),
        (b"x = 1\x00\n", (1, 6), "it contains NUL bytes, so it is not Python source"),
    ],
    ids=["invalid-utf8", "nul"],
)
def test_bad_bytes_on_stdin_are_nan001_as_in_a_file(data, where_, reason):
    result = CliRunner().invoke(main, ["check", "-", "--format", "json"], input=data)
    assert result.exit_code == 1, result.output
    (finding,) = json.loads(result.stdout)["findings"]
    assert (finding["path"], finding["line"], finding["column"], finding["code"]) == ("<stdin>", *where_, "NAN001")
    assert finding["message"] == f"this file cannot be checked: {reason}"
