"""`[tool.nanlint]` configuration: discovery, every key, errors, CLI precedence."""
from __future__ import annotations

import subprocess
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanlint.api import check_paths
from nanlint.catalog import load_catalog
from nanlint.cli import main
from nanlint.config import ConfigError, Settings, TraceTarget, config_for, find_config, load_config

DIVISION = "import torch\n\n\ndef f(a, b):\n    d = a.sum() - b.sum()\n    return a / d\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_nearest_pyproject_with_a_nanlint_table_wins(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "[tool.nanlint]\nprecision = 'fp16'\n",
        "pkg/pyproject.toml": "[project]\nname = 'pkg'\n",  # no [tool.nanlint]: skipped
        "pkg/sub/m.py": DIVISION,
    })
    assert find_config(tmp_path / "pkg" / "sub" / "m.py") == tmp_path / "pyproject.toml"
    write(tmp_path, {"pkg/pyproject.toml": "[tool.nanlint]\nprecision = 'bf16'\n"})
    assert find_config(tmp_path / "pkg" / "sub") == tmp_path / "pkg" / "pyproject.toml"
    assert config_for(tmp_path / "pkg" / "sub").settings.precision == "bf16"


def test_every_key_is_read(tmp_path):
    write(tmp_path, {"pyproject.toml": """
        [tool.nanlint]
        select = ["NAN1", "NAN001"]
        ignore = ["NAN102"]
        extend-select = ["NAN004"]
        per-file-ignores = { "tests/**" = ["NAN101"], "conftest.py" = ["NAN1"] }
        exclude = ["build", "generated/*.py"]
        extend-exclude = ["scratch"]
        respect-gitignore = false
        precision = "fp16"
        min-batch-size = 16
        min-eps = 1e-6

        [[tool.nanlint.trace]]
        target = "models.net:Net"
        input-shapes = [[4, 8], [4]]
        input-ranges = [[-1, 1], [0.0, 2.5]]
        checkpoint = "ckpt/net.pt"

        [[tool.nanlint.trace]]
        target = "models.net:make"
    """})
    project = load_config(tmp_path / "pyproject.toml")
    settings = project.settings
    assert settings.select == ("NAN1", "NAN001")
    assert settings.ignore == ("NAN102",)
    assert settings.extend_select == ("NAN004",)
    assert settings.per_file_ignores == (
        (f"{tmp_path.as_posix()}/tests/**", ("NAN101",)),
        ("conftest.py", ("NAN1",)),
    )
    assert settings.exclude == ("build", f"{tmp_path.as_posix()}/generated/*.py")
    assert settings.extend_exclude == ("scratch",)
    assert settings.respect_gitignore is False
    assert (settings.precision, settings.min_batch_size, settings.min_eps) == ("fp16", 16, 1e-6)
    assert project.traces == (
        TraceTarget("models.net:Net", ((4, 8), (4,)), ((-1.0, 1.0), (0.0, 2.5)), str(tmp_path / "ckpt/net.pt"),
                    str(tmp_path)),
        TraceTarget("models.net:make", root=str(tmp_path)),
    )
    assert settings.ignored_in(str(tmp_path / "tests" / "unit" / "test_x.py")) == ("NAN101",)
    assert settings.ignored_in(str(tmp_path / "src" / "conftest.py")) == ("NAN1",)
    assert settings.ignored_in(str(tmp_path / "src" / "model.py")) == ()


def test_trace_targets_may_be_plain_strings(tmp_path):
    write(tmp_path, {"pyproject.toml": "[tool.nanlint]\ntrace = ['a.b:C']\n"})
    assert load_config(tmp_path / "pyproject.toml").traces == (TraceTarget("a.b:C", root=str(tmp_path)),)


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ("selct = ['NAN1']", "selct", "unknown key"),
        ("select = 'NAN1'", "select", "list of strings"),
        ("ignore = ['NAN999']", "ignore", "neither a rule code nor a prefix"),
        ("ignore = ['E501']", "ignore", "neither a rule code nor a prefix"),
        ("precision = 'fp8'", "precision", "expected one of auto, fp32, bf16, fp16"),
        ("min-batch-size = 0", "min-batch-size", "positive integer"),
        ("min-batch-size = 2.5", "min-batch-size", "positive integer"),
        ("min-eps = -1e-8", "min-eps", "positive number"),
        ("respect-gitignore = 'yes'", "respect-gitignore", "true or false"),
        ("per-file-ignores = ['tests']", "per-file-ignores", "table"),
        ("per-file-ignores = { 'tests/*' = ['NAN77'] }", "per-file-ignores.tests/*", "neither"),
        ("options = { NAN999 = { x = 1 } }", "options.NAN999", "no such rule"),
        ("options = { NAN101 = { depth = 3 } }", "options.NAN101.depth", "unknown option"),
        ("trace = [{ target = 'no_colon' }]", "trace[0].target", "package.module:attr"),
        ("trace = [{ target = 'a:b', input-shapes = [[4, -1]] }]", "trace[0].input-shapes", "positive integer"),
        ("trace = [{ target = 'a:b', input-ranges = [[1, 0]] }]", "trace[0].input-ranges", "low end is above"),
        ("trace = [{ target = 'a:b', shape = [[4]] }]", "trace[0].shape", "unknown key"),
    ],
)
def test_bad_keys_and_values_name_the_key_and_the_file(tmp_path, body, key, problem):
    write(tmp_path, {"pyproject.toml": f"[tool.nanlint]\n{body}\n", "m.py": DIVISION})
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "pyproject.toml")
    assert error.value.key == key
    assert problem in str(error.value)
    result = CliRunner().invoke(main, ["check", str(tmp_path / "m.py")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'pyproject.toml'}: `{key}`" in result.output
    assert "Traceback" not in result.output


def test_invalid_toml_exits_2_naming_the_file(tmp_path):
    write(tmp_path, {"pyproject.toml": "[tool.nanlint]\nselect = [\n", "m.py": DIVISION})
    result = CliRunner().invoke(main, ["check", str(tmp_path / "m.py")])
    assert result.exit_code == 2
    assert "pyproject.toml" in result.output and "not valid TOML" in result.output


def test_rule_options_are_checked_against_the_rule_document(tmp_path, monkeypatch):
    catalog = load_catalog()
    monkeypatch.setitem(catalog, "NAN101", replace(catalog["NAN101"], options={"max-depth": 3, "scale": 1.0}))
    write(tmp_path, {"pyproject.toml": "[tool.nanlint.options.NAN101]\nmax-depth = 5\nscale = 2\n"})
    settings = load_config(tmp_path / "pyproject.toml").settings
    assert settings.option("NAN101", "max-depth", 3) == 5
    assert settings.option("NAN101", "scale", 1.0) == 2.0
    assert settings.option("NAN102", "max-depth", 3) == 3
    write(tmp_path, {"pyproject.toml": "[tool.nanlint.options.NAN101]\nmax-depth = 'deep'\n"})
    with pytest.raises(ConfigError, match="expected a int like the default 3"):
        load_config(tmp_path / "pyproject.toml")


def test_config_file_option_reads_a_plain_toml_or_a_pyproject(tmp_path):
    write(tmp_path, {"nanlint.toml": "ignore = ['NAN101']\n", "other/pyproject.toml": "[project]\nname='x'\n"})
    assert load_config(tmp_path / "nanlint.toml").settings.ignore == ("NAN101",)
    with pytest.raises(ConfigError, match="no \\[tool.nanlint\\] table"):
        load_config(tmp_path / "other" / "pyproject.toml")


def test_cli_flags_override_the_configuration(tmp_path):
    write(tmp_path, {"pyproject.toml": "[tool.nanlint]\nignore = ['NAN101']\n", "m.py": DIVISION})
    runner = CliRunner()
    quiet = runner.invoke(main, ["check", str(tmp_path / "m.py")])
    assert quiet.exit_code == 0, quiet.output
    selected = runner.invoke(main, ["check", str(tmp_path / "m.py"), "--select", "NAN101"])
    assert selected.exit_code == 1 and "NAN101" in selected.output
    write(tmp_path, {"other.toml": "select = ['NAN3']\n"})
    by_file = runner.invoke(main, ["check", str(tmp_path / "m.py"), "--config", str(tmp_path / "other.toml")])
    assert by_file.exit_code == 0, by_file.output


def test_exclude_and_extend_exclude(tmp_path):
    write(tmp_path, {
        "pyproject.toml": "[tool.nanlint]\nextend-exclude = ['generated/*.py', 'scratch_*.py']\n",
        "src/m.py": DIVISION,
        "generated/g.py": DIVISION,
        "scratch_1.py": DIVISION,
        "build/b.py": DIVISION,  # a default exclude
    })
    settings = load_config(tmp_path / "pyproject.toml").settings
    summary = check_paths([str(tmp_path)], settings)
    assert sorted(Path(f.path).relative_to(tmp_path).as_posix() for f in summary.findings) == ["src/m.py"]
    # `exclude` replaces the defaults: `build` is checked again.
    settings = replace(settings, exclude=("generated",))
    summary = check_paths([str(tmp_path)], settings)
    assert sorted(Path(f.path).relative_to(tmp_path).as_posix() for f in summary.findings) == [
        "build/b.py", "src/m.py"
    ]


def test_virtual_environments_are_skipped_whatever_their_name(tmp_path):
    write(tmp_path, {
        "src/m.py": DIVISION,
        "myenv/pyvenv.cfg": "home = /usr/bin\n",
        "myenv/lib/python3.11/site-packages/pkg/m.py": DIVISION,
        "vendored/site-packages/pkg/m.py": DIVISION,
    })
    summary = check_paths([str(tmp_path)], Settings())
    assert sorted(Path(f.path).relative_to(tmp_path).as_posix() for f in summary.findings) == ["src/m.py"]


def test_one_file_named_twice_is_checked_once(tmp_path):
    write(tmp_path, {"sub/m.py": DIVISION})
    summary = check_paths([str(tmp_path / "sub" / "m.py"), str(tmp_path / "sub" / ".." / "sub" / "m.py"), str(tmp_path)],
                          Settings())
    assert (summary.files, len(summary.findings)) == (1, 1)


@pytest.mark.parametrize("option", ["--select", "--ignore", "--extend-select"])
def test_an_unknown_code_on_the_command_line_is_a_usage_error(tmp_path, option):
    write(tmp_path, {"m.py": DIVISION})
    result = CliRunner().invoke(main, ["check", str(tmp_path / "m.py"), option, "NAN1O1"])
    assert result.exit_code == 2
    assert "'NAN1O1' is neither a rule code nor a prefix of one" in result.stderr


def test_gitignore_is_respected_by_default(tmp_path):
    write(tmp_path, {".gitignore": "ignored/\nskip_me.py\n", "ignored/a.py": DIVISION, "skip_me.py": DIVISION, "kept.py": DIVISION})
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    found = sorted(Path(f.path).name for f in check_paths([str(tmp_path)], Settings()).findings)
    assert found == ["kept.py"]
    every = check_paths([str(tmp_path)], Settings(respect_gitignore=False)).findings
    assert sorted(Path(f.path).name for f in every) == ["a.py", "kept.py", "skip_me.py"]
    # A file named on the command line is checked even when git ignores it.
    assert check_paths([str(tmp_path / "skip_me.py")], Settings()).findings
