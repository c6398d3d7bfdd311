"""`nanlint rules` and `nanlint rule CODE`, from the documents shipped in the wheel."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner

from nanlint.catalog import load_catalog
from nanlint.cli import main
from nanlint.report.rule_docs import render_rule
from tests.conftest import REPO


def test_rules_table_lists_every_rule_with_its_columns():
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0
    header, *rows = result.output.splitlines()
    assert header.split()[:5] == ["code", "name", "analyzers", "fix", "default"]
    assert [row.split()[0] for row in rows] == list(load_catalog())
    nan003 = next(row for row in rows if row.startswith("NAN003"))
    assert nan003.split()[1:5] == ["unused-suppression", "static", "safe", "on"]
    # Columns line up: every name starts at the same offset.
    offsets = {row.index(load_catalog()[row.split()[0]].name) for row in rows}
    assert len(offsets) == 1


def test_rule_document_in_a_pipe_is_the_markdown():
    result = CliRunner().invoke(main, ["rule", "nan101"])
    assert result.exit_code == 0
    meta = load_catalog()["NAN101"]
    assert result.output.startswith(meta.body.strip())
    assert "severity: error | analyzers: static, graph | fix: none | default: on" in result.output
    assert meta.url in result.output


def test_rule_document_on_a_terminal_is_rendered():
    meta = load_catalog()["NAN101"]
    plain = render_rule(meta, terminal=True, colour=False)
    assert plain.startswith("NAN101 unguarded-division\n")
    assert "```" not in plain and "## " not in plain
    assert "Flagged:\n    import torch" in plain
    assert "        return 2 * inter / total  # expect: NAN101" in plain
    coloured = render_rule(meta, terminal=True, colour=True)
    assert "\x1b[1;4mNAN101 unguarded-division\x1b[0m" in coloured


def test_unknown_rule_exits_2():
    result = CliRunner().invoke(main, ["rule", "NAN999"])
    assert result.exit_code == 2 and "nanlint rules" in result.output


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True, capture_output=True,
    )
    [built] = out.glob("nanlint-*.whl")
    return built


def test_the_wheel_ships_the_rule_documents_and_reads_them(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(n.rsplit("/", 1)[-1] for n in archive.namelist() if n.startswith("nanlint/_rules/"))
        archive.extractall(tmp_path / "site")
    assert shipped == sorted(p.name for p in (REPO / "rules").glob("NAN*.md"))
    # Run from the unpacked wheel, far from the repository's rules/ folder.
    program = (
        "import sys; sys.path.insert(0, sys.argv[1]); import nanlint.catalog as c; "
        "print(c.rules_dir()); from nanlint.cli import main; sys.argv = ['nanlint', 'rule', 'NAN101']; main()"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path / "site")], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    first, rest = result.stdout.split("\n", 1)
    assert first == str(tmp_path / "site" / "nanlint" / "_rules")
    assert rest.startswith("# NAN101 unguarded-division")
