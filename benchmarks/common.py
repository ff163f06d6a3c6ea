"""What every benchmark shares: where results go, how a measurement is recorded, and the
facts about the machine and the code that make a figure reproducible (commit, packages, CPU).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = (
    "torch",
    "lightning",
    "torchmetrics",
    "hydra-core",
    "datasets",
    "tokenizers",
    "transformers",
    "scikit-learn",
    "onnxruntime",
)


@dataclass
class Row:
    """One line of the results table: a measurement, its target and the command behind it.

    ``met`` is None when the row has no target (a reference) or could not be measured;
    ``note`` then says why.
    """

    section: str
    name: str
    figures: dict[str, Any]
    command: str
    target: str = ""
    met: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Settings:
    """The run-wide choices: quick mode, seeds, where data and caches live."""

    quick: bool
    seeds: list[int]
    protocols: list[str]
    data_dir: str
    cache_dir: str
    work_dir: Path

    @property
    def results_dir(self) -> Path:
        return RESULTS / "quick" if self.quick else RESULTS


def results_path(settings: Settings, group: str) -> Path:
    return settings.results_dir / f"{group}.json"


def save_group(settings: Settings, group: str, rows: list[Row], seconds: float) -> Path:
    """Write one group's rows with the environment they were measured in."""
    path = results_path(settings, group)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "group": group,
        "mode": "quick" if settings.quick else "full",
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(seconds, 1),
        "environment": environment(),
        "rows": [asdict(row) for row in rows],
    }
    partial = path.with_suffix(".json.part")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    partial.replace(path)
    return path


def environment() -> dict[str, Any]:
    """Commit, package versions, CPU and GPU: what a reader needs to compare figures."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git(*CODE_CHANGES)),
        "python": platform.python_version(),
        "packages": versions,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": _gpu(),
        "platform": platform.platform(),
    }


# uncommitted changes to the code; prose (Markdown, such as the README table the runner
# rewrites) and the results themselves do not change a measurement
CODE_CHANGES = ("status", "--porcelain", "--untracked-files=no", "--", ".", ":!*.md",
                ":!benchmarks/results")  # fmt: skip


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _gpu() -> str | None:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0)
    except Exception:  # the figure is informative only
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux's ``VmHWM``, which a new program starts afresh, not ``getrusage``: Linux carries
    ``ru_maxrss`` over ``exec``, so a probe started by a runner holding 2 GB reported 2 GB.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def command_line(args: list[str]) -> str:
    """A shell-ready command, with the interpreter shown as ``python``."""
    shown = ["python" if a == sys.executable else a for a in args]
    return shlex.join(shown)


def run_command(
    args: list[str], log_file: Path, env: dict[str, str] | None = None, timeout: float | None = None
) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command with its output in ``log_file``; fail loudly with the log's tail."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(log_file, "w") as handle:
        done = subprocess.run(
            args,
            cwd=ROOT,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            timeout=timeout,
        )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(
            f"Benchmark command failed ({done.returncode}): {command_line(args)}\n"
            f"Last lines of {log_file}:\n{tail}"
        )
    return seconds, done
