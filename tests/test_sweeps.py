"""Hydra sweeps: a grid, an Optuna search and the local launcher, each ending in one table."""

from pathlib import Path

import pytest

import conftest
from conftest import run_cli
from corpora import corpus, write_archive

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep-data")
    write_archive(root / "data", corpus(train_per_class=12, test_per_class=4, seed=5))
    return root / "data"


def sweep(tmp_path: Path, data_dir: Path, *args: str):
    logs = tmp_path / "logs"
    result = run_cli(
        "-m",
        *conftest.TINY,
        "trainer.max_epochs=1",
        f"paths.log_dir={logs}",
        f"paths.data_dir={data_dir}",
        f"paths.cache_dir={tmp_path / 'cache'}",
        *args,
    )
    sweeps = list((logs / "train" / "multiruns").glob("*")) if logs.exists() else []
    return result, sweeps


def table_rows(sweep_dir: Path) -> list[str]:
    lines = (sweep_dir / "results.md").read_text().splitlines()
    return [line for line in lines[2:] if line.startswith("|")]


def test_grid_sweep_gathers_one_table(tmp_path, data_dir):
    result, sweeps = sweep(tmp_path, data_dir, "optimizer.lr=1e-3,3e-3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(sweeps) == 1
    rows = table_rows(sweeps[0])
    assert len(rows) == 2
    assert any("optimizer.lr=0.001" in r for r in rows)
    assert any("optimizer.lr=0.003" in r for r in rows)
    assert (sweeps[0] / "results.csv").is_file()
    assert "Sweep results" in result.stdout


def test_optuna_search_runs_its_trials(tmp_path, data_dir):
    result, sweeps = sweep(
        tmp_path,
        data_dir,
        "hparams_search=newsgroups_optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.n_startup_trials=1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = table_rows(sweeps[0])
    assert len(rows) == 2 and all("optimizer.lr=" in r for r in rows)
    assert "Best value" in result.stdout + result.stderr  # Optuna's own summary


def test_local_launcher_runs_each_trial_in_its_own_process(tmp_path, data_dir):
    result, sweeps = sweep(tmp_path, data_dir, "hydra/launcher=local", "seed=1,2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(table_rows(sweeps[0])) == 2


def test_multirun_with_multi_process_ddp_is_refused(tmp_path, data_dir):
    result, _ = sweep(tmp_path, data_dir, "trainer=ddp_sim", "optimizer.lr=1e-3,3e-3")
    assert result.returncode != 0
    assert "every DDP process run the whole sweep" in " ".join(result.stderr.split())
