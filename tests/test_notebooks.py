"""Jupyter notebooks: cell by cell positions, IPython syntax skipped, fixes written back."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from nanlint.api import check_paths
from nanlint.cli import main
from nanlint.notebook import parse_notebook


def code(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": source.splitlines(keepends=True)}


CELLS = [
    {"cell_type": "markdown", "metadata": {}, "source": ["# Training\n"]},
    code("%matplotlib inline\nimport torch\n!pip install einops\n"),
    code("%%bash\necho $((1 / 0)) {not python\n"),
    code("%%time\nmodel = torch.nn.Linear(4, 4).half()\nopt = torch.optim.Adam(model.parameters(), eps=1e-8)\n"),
    code("def ratio(a, b):\n    d = a.sum() - b.sum()\n    return a / d\nfiles = !ls\nratio?\n"),
    code("def quiet(a, b):\n    d = a.sum() - b.sum()\n    return a / d  # noqa: NAN101, NAN102"),
]


def notebook(tmp_path: Path, cells: list[dict] = CELLS, name: str = "train.ipynb") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1))
    return path


def test_findings_are_placed_by_cell_and_line(tmp_path):
    summary = check_paths([str(notebook(tmp_path))])
    found = [(f.cell, f.line, f.column, f.code) for f in summary.findings]
    # cell 4: the import in cell 2 resolves torch.optim.Adam; `.half()` makes 1e-8 zero.
    # cell 5: the division; cell 6: the division is suppressed, NAN102 is not used.
    assert found == [(4, 3, 48, "NAN301"), (5, 3, 12, "NAN101"), (6, 3, 19, "NAN003")]


def test_ipython_syntax_becomes_pass_and_keeps_line_numbers():
    parsed = parse_notebook(json.dumps({"cells": CELLS}))
    lines = parsed.text.splitlines()
    assert lines[:5] == ["pass", "import torch", "pass", "pass", "pass"]
    assert parsed.lines[:5] == ((2, 1), (2, 2), (2, 3), (3, 1), (3, 2))
    assert "files = !ls" not in parsed.text and "ratio?" not in parsed.text


def test_text_and_json_name_the_cell(tmp_path):
    path = notebook(tmp_path)
    runner = CliRunner()
    text = runner.invoke(main, ["check", str(path)])
    assert f"{path}:cell 5:3:12: NAN101" in text.output
    document = json.loads(runner.invoke(main, ["check", str(path), "--format", "json"]).output)
    assert [(f["cell"], f["line"], f["code"]) for f in document["findings"]] == [
        (4, 3, "NAN301"), (5, 3, "NAN101"), (6, 3, "NAN003")
    ]


def test_notebooks_are_found_in_folders_and_a_broken_one_is_reported(tmp_path):
    notebook(tmp_path)
    (tmp_path / "broken.ipynb").write_text("{not json")
    summary = check_paths([str(tmp_path)])
    assert summary.files == 2
    broken = [f for f in summary.findings if f.path.endswith("broken.ipynb")]
    assert [(f.code, f.cell) for f in broken] == [("NAN001", None)]
    assert "not a Jupyter notebook" in broken[0].message
    assert any(f.code == "NAN101" for f in summary.findings)


def test_fix_writes_the_cells_back_and_keeps_ipython_lines(tmp_path):
    path = notebook(tmp_path)
    result = CliRunner().invoke(main, ["check", str(path), "--fix"])
    assert "Fixed 1 finding." in result.output
    cells = json.loads(path.read_text())["cells"]
    assert "".join(cells[5]["source"]) == "def quiet(a, b):\n    d = a.sum() - b.sum()\n    return a / d  # noqa: NAN101"
    assert cells[1]["source"] == ["%matplotlib inline\n", "import torch\n", "!pip install einops\n"]
    assert cells[4]["source"][3:] == ["files = !ls\n", "ratio?\n"]
    assert cells[0] == CELLS[0]
    assert {f.code for f in check_paths([str(path)]).findings} == {"NAN301", "NAN101"}
