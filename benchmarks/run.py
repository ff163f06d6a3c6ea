"""Run the benchmark suite, or some of its groups, then rebuild the results table.

    python -m benchmarks.run                      # everything (hours on 2 CPU cores)
    python -m benchmarks.run --only resnet        # one model group (then `inference` uses it)
    python -m benchmarks.run --quick              # every group, a few steps each (minutes)

Groups: resnet, rnn, transformer (accuracy of each experiment config, both protocols, over
``--seeds``), ensemble (of the checkpoints those groups left), references (scikit-learn),
throughput (nlpclf vs a plain PyTorch loop), pipeline, inference, scale. Each group writes
``benchmarks/results/<group>.json`` (``results/quick/`` in quick mode); the table in
``benchmarks/results/RESULTS.md`` and the README is rebuilt from every JSON file present.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from benchmarks import accuracy, inference, pipeline, references, report, scale
from benchmarks.common import ROOT, Row, Settings, results_path, save_group

MODELS = ("resnet", "rnn", "transformer")
GROUPS = (*MODELS, "ensemble", "references", "throughput", "pipeline", "inference", "scale")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--only",
        default="all",
        help=f"comma-separated groups of {', '.join(GROUPS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="a few steps of everything")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per model and protocol")
    parser.add_argument("--protocols", default="raw,clean", help="protocols of the accuracy groups")
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("NLPCLF_DATA_DIR"),
        help="folder with 20news-bydate.tar.gz (default: $NLPCLF_DATA_DIR)",
    )
    parser.add_argument(
        "--cache-dir",
        default=os.environ.get("NLPCLF_CACHE_DIR", str(ROOT / ".cache" / "nlpclf")),
        help="writable cache for Arrow files and vocabularies",
    )
    return parser.parse_args(argv)


def selected_groups(only: str, gpu: bool = False) -> list[str]:
    """The groups to run; ``all`` leaves the transformer out on a CPU-only machine, where one
    MiniLM run takes about 3 hours on 2 cores (``--only transformer`` still runs it)."""
    if only == "all":
        if gpu:
            return list(GROUPS)
        print(
            "== no GPU: skipping the transformer group (about 3 h per run on 2 CPU cores); "
            "run it alone with --only transformer. Its rows show as not measured.",
            flush=True,
        )
        return [g for g in GROUPS if g != "transformer"]
    groups = [g.strip() for g in only.split(",") if g.strip()]
    unknown = sorted(set(groups) - set(GROUPS))
    if unknown:
        raise SystemExit(f"Unknown benchmark group(s) {unknown}; choose from {', '.join(GROUPS)}.")
    return groups


def check_data(data_dir: str | None) -> str:
    if not data_dir:
        raise SystemExit(
            "The benchmarks run on the real 20 Newsgroups: set NLPCLF_DATA_DIR (or --data-dir) "
            "to the folder holding 20news-bydate.tar.gz."
        )
    folder = Path(data_dir).expanduser()
    if not (folder / "20news-bydate.tar.gz").is_file() and not any(
        (folder / name).is_dir() for name in ("20news-bydate-train", "20news-bydate")
    ):
        raise SystemExit(
            f"No 20 Newsgroups corpus in '{folder}': put 20news-bydate.tar.gz there, or point "
            "NLPCLF_DATA_DIR at the folder that has it."
        )
    return str(folder.resolve())


def _protocols(text: str) -> list[str]:
    protocols = [p.strip() for p in text.split(",") if p.strip()]
    if not protocols or set(protocols) - set(accuracy.PROTOCOLS):
        raise SystemExit(f"--protocols takes {', '.join(accuracy.PROTOCOLS)}; got '{text}'.")
    return protocols


def ensemble_checkpoints(settings: Settings) -> dict[str, list[str]]:
    """Every checkpoint the model groups of this mode left, per protocol."""
    found: dict[str, list[str]] = {p: [] for p in accuracy.PROTOCOLS}
    for model in MODELS:
        for protocol in accuracy.PROTOCOLS:
            path = results_path(settings, f"{model}-{protocol}")
            if path.is_file():
                for row in json.loads(path.read_text())["rows"]:
                    found[protocol] += [c for c in row["extra"].get("checkpoints", []) if c]
    return found


def run_group(group: str, settings: Settings) -> list[Row]:
    if group == "ensemble":
        found = ensemble_checkpoints(settings)
        protocols = [p for p, ckpts in found.items() if len(ckpts) >= 2]
        if not protocols:
            raise SystemExit("The ensemble needs two or more checkpoints: run model groups first.")
        return [accuracy.ensemble_row(settings, p, found[p]) for p in protocols]
    if group == "references":
        return references.run(settings)
    if group == "throughput":
        steps, repeats = (12, 1) if settings.quick else (40, 3)
        return [references.throughput_ratio(settings, steps, repeats)]
    if group == "pipeline":
        return pipeline.run(settings)
    if group == "inference":
        return inference.run(settings)
    if group == "scale":
        return scale.run(settings)
    raise AssertionError(group)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    groups = selected_groups(args.only, gpu=accuracy.gpu_available())
    settings = Settings(
        quick=args.quick,
        seeds=list(range(1, (1 if args.quick else args.seeds) + 1)),
        protocols=["raw"] if args.quick else _protocols(args.protocols),
        data_dir=check_data(args.data_dir),
        cache_dir=str(Path(args.cache_dir).expanduser().resolve()),
        work_dir=ROOT / "benchmarks" / "results" / "raw" / ("quick" if args.quick else "full"),
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    for group in groups:
        # a model group saves one file per protocol, so protocols can be run one at a time
        parts = [(group, p) for p in settings.protocols] if group in MODELS else [(group, None)]
        for name, protocol in parts:
            label = f"{name}-{protocol}" if protocol else name
            print(f"== benchmark {label} ({'quick' if args.quick else 'full'})", flush=True)
            started = time.perf_counter()
            rows = accuracy.run(settings, name, protocol) if protocol else run_group(name, settings)
            path = save_group(settings, label, rows, time.perf_counter() - started)
            for row in rows:
                print(f"   {row.name}: {row.figures} {report.verdict(row)}", flush=True)
            print(f"   wrote {path.relative_to(ROOT)} in {time.perf_counter() - started:.0f} s")
    table = report.write(settings)
    print(f"== results table: {table.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
