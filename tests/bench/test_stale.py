"""A result older than the code it measures is marked stale, and the README says so."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from bench import stale
from tests.conftest import ROOT


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit_file(repo: Path, name: str, text: str) -> str:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", name)
    return git(repo, "rev-parse", "HEAD")


def test_a_result_goes_stale_when_the_code_it_measures_changes(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    measured = commit_file(repo, "gan/model.py", "v1")
    result = repo / "bench.json"
    result.write_text(json.dumps({"commit": measured, "measures": ["gan/model.py"]}))
    commit_file(repo, "docs/other.md", "unrelated")
    assert stale.status(result, repo).state == stale.FRESH
    commit_file(repo, "gan/model.py", "v2")
    assert stale.status(result, repo).state == stale.STALE
    result.write_text(json.dumps({"measures": ["gan/model.py"]}))
    assert stale.status(result, repo).why == "records no commit"
    result.write_text(json.dumps({"commit": "0" * 40, "measures": ["gan/model.py"]}))
    assert stale.status(result, repo).state == stale.UNKNOWN  # a shallow clone


def test_the_readme_marks_every_result_as_bench_stale_finds_it():
    """After a change to measured code: re-run its benchmark or `python -m bench.stale
    --readme` (a result whose commit this clone lacks is not judged)."""
    block = stale.readme_block((ROOT / "README.md").read_text())
    readme = {
        row.split("|")[1].strip(" `"): row.split("|")[4].strip() for row in block.splitlines()[2:]
    }
    for row in stale.statuses():
        assert row.file in readme, f"{row.file} is missing from the README's results table"
        if row.state != stale.UNKNOWN:
            assert readme[row.file] == row.state, (row.file, row.why)
