"""Which results in `bench/results/` are older than the code they measure.

A result is *fresh* when no commit after the one it records (`commit`) touched the paths it
measures (`measures`, or for results written before that field existed, `LEGACY_MEASURES`);
*stale* when one did, when it records no commit, or when it says so itself (`stale`);
*unknown* when its commit is not in this clone's history (a shallow CI checkout).

    python -m bench.stale            # the table, on stdout
    python -m bench.stale --readme   # rewrite the README's generated block with it

`tests/bench/test_stale.py` checks that the README's block says what this says: after a change
to measured code, re-run the benchmark, or run `--readme` to mark its result stale.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- bench-status:begin -->", "<!-- bench-status:end -->"
FRESH, STALE, UNKNOWN = "fresh", "stale", "unknown"
# The code each result measures, for results written before they recorded it themselves:
# every script now records `measures` (results_meta.stamp), so new files never need this.
LEGACY_MEASURES = {
    "cheap_path": ["app.py", "core", "gan/generate", "ui"],
    "load": ["app.py", "core", "gan", "style", "ui"],
    "load_space": ["app.py", "core", "gan", "style", "ui"],
    "session_memory": ["app.py", "core", "ui"],
    "stylegan2": ["gan/models/stylegan2.py", "gan/models/stylegan2_ops.py", "gan/generate"],
    "stylegan3": ["gan/models/stylegan3.py", "gan/models/stylegan3_ops.py"],
}


@dataclass
class Status:
    file: str
    commit: str
    device: str
    state: str
    why: str


def git(*args: str, root: Path = ROOT) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def recorded_commit(result: dict) -> str:
    """The commit a result names ("abc1234 with local changes", "…+dirty": the sha)."""
    text = str(result.get("commit") or "").split()
    return text[0].removesuffix("+dirty") if text else ""


def measures_of(path: Path, result: dict) -> list[str]:
    if result.get("measures"):
        return list(result["measures"])
    stem = path.stem.removesuffix("_cpu").removesuffix("_gpu")
    return LEGACY_MEASURES.get(stem, [])


def status(path: Path, root: Path = ROOT) -> Status:
    """Fresh, stale or unknown, and why, for one results file."""
    result = json.loads(path.read_text())
    commit = recorded_commit(result)
    machine = result.get("machine")
    device = result.get("device") or (machine.get("device") if isinstance(machine, dict) else None)
    row = Status(path.name, commit[:7] or "–", str(device or "?").split(" (")[0], STALE, "")
    if result.get("stale"):
        row.why = "marked stale in the file"
    elif not commit:
        row.why = "records no commit"
    elif not (measures := measures_of(path, result)):
        row.why = "records no measured paths"
    elif not git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}", root=root):
        row.state, row.why = UNKNOWN, "its commit is not in this clone"
    elif changed := git("log", "--format=%h", f"{commit}..HEAD", "--", *measures, root=root):
        row.why = f"changed since: {', '.join(changed.split()[:3])}"
    else:
        row.state, row.why = FRESH, "no change to " + ", ".join(measures)
    return row


def statuses(results: Path = RESULTS, root: Path = ROOT) -> list[Status]:
    return [status(p, root) for p in sorted(results.glob("*.json"))]


def table(rows: list[Status]) -> str:
    lines = ["| Results file | Commit | Device | Status | Why |", "|---|---|---|---|---|"]
    lines += [f"| `{r.file}` | {r.commit} | {r.device} | {r.state} | {r.why} |" for r in rows]
    return "\n".join(lines)


def readme_block(text: str) -> str:
    """The README's generated block (between the markers), without them."""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def write_readme(rows: list[Status], readme: Path = README) -> None:
    text = readme.read_text()
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(f"{head}{BEGIN}\n{table(rows)}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readme", action="store_true", help="rewrite the README's block")
    args = p.parse_args(argv)
    rows = statuses()
    if args.readme:
        write_readme(rows)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
