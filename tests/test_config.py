"""One configuration: a TOML file, options over it, --print-config, and clear errors."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from swelancer.cli.app import app, main
from swelancer.config import AgentSection, RunConfig, Selection, load, to_toml
from swelancer.errors import ConfigError

CLI = CliRunner()


def cli(*args: str):
    return CLI.invoke(app, list(args), catch_exceptions=False)


def test_print_config_writes_the_resolved_configuration_and_reads_back_the_same(tmp_path):
    options = ["--split", "demo", "--model", "gpt-4o", "-k", "3", "--grade-in", "fresh"]
    options += ["--memory", "16g", "--task", "101", "--task", "102_1"]
    first = cli("run", *options, "--print-config")
    assert first.exit_code == 0, first.output
    data = tomllib.loads(first.stdout)
    assert data["agent"]["model"] == "gpt-4o" and data["run"]["tries"] == 3
    assert data["grading"]["grade_in"] == "fresh" and data["sandbox"]["memory"] == "16g"
    assert data["selection"]["task_ids"] == ["101", "102_1"]
    path = tmp_path / "run.toml"
    path.write_text(first.stdout)
    again = cli("run", "--config", str(path), "--print-config")
    assert again.exit_code == 0 and again.stdout == first.stdout


def test_options_override_the_file_and_leave_the_rest_of_it(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[agent]\nmodel = "gpt-4o"\n[grading]\ngrade_in = "fresh"\ntest_runs = 1\n')
    done = cli("run", "--config", str(path), "--test-runs", "2", "--print-config")
    data = tomllib.loads(done.stdout)
    assert data["grading"] == {**data["grading"], "grade_in": "fresh", "test_runs": 2}


def test_defaults_live_in_the_models():
    config = RunConfig(agent=AgentSection(model="mock/noop"))
    assert load(None, {"agent": {"model": "mock/noop"}}) == config
    assert config.grading.grade_in == "same" and config.sandbox.setup_timeout_s == 2400


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[agent]\nmodel = "x"\n[sandboxes]\n', "unknown section [sandboxes]"),
        ('[agent]\nmodel = "x"\n[sandbox]\nmemroy = "8g"\n', "sandbox.memroy"),
        ('[agent]\nmodel = "x"\n[run]\ntries = 0\n', "run.tries"),
        ('[agent]\nmodel = "x"\n[run]\nrun_id = "../up"\n', "is not a plain name"),
        ("[agent\n", "is not valid TOML"),
        ("[grading]\ngrade_in = 'fresh'\n", "no model to run"),
    ],
)
def test_a_bad_file_is_one_paragraph_naming_file_and_setting(tmp_path, capsys, text, named):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path, {})
    assert named in str(caught.value)
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--config", str(path), "--print-config"])
    said = " ".join(capsys.readouterr().err.split())
    assert stopped.value.code == 2 and said.startswith("swelancer: configuration error:")
    if "model" not in named:
        assert str(path) in said and named in said


@pytest.mark.parametrize(
    ("flags", "named", "not_named"),
    [
        (["-j", "0"], "--concurrency/-j:", "run.concurrency"),
        (["-k", "-1"], "--tries/-k:", "run.tries"),
        (["--max-retries", "-2"], "--max-retries:", "run.max_retries"),
        (["--setup-timeout", "0"], "--setup-timeout:", "sandbox.setup_timeout_s"),
    ],
)
def test_a_bad_option_is_named_by_its_flag(tmp_path, capsys, flags, named, not_named):
    path = tmp_path / "ok.toml"
    path.write_text("[run]\nconcurrency = 2\n")  # a file too: the flag is still what is named
    with pytest.raises(SystemExit) as stopped:
        main(["run", "--model", "mock/oracle", "--config", str(path), "--print-config", *flags])
    said = " ".join(capsys.readouterr().err.split())
    assert stopped.value.code == 2 and named in said and not_named not in said, said


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"no configuration file at .*nope\.toml"):
        load(tmp_path / "nope.toml", {})


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=150, deadline=None)
@given(model=TEXT.filter(str.strip), base_url=TEXT, ids=st.lists(TEXT, max_size=3))
def test_any_text_survives_the_round_trip(tmp_path_factory, model, base_url, ids):
    config = RunConfig(
        agent=AgentSection(model=model, base_url=base_url), selection=Selection(task_ids=ids)
    )
    path = tmp_path_factory.mktemp("cfg") / "run.toml"
    path.write_text(to_toml(config), encoding="utf-8")
    assert load(path, {}) == config
