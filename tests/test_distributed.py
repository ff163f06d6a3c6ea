"""DDP under Hydra is correct, not just running: one folder, rank-zero output, exact counts."""

import json
from pathlib import Path

import pytest
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

import conftest
from conftest import run_cli
from corpora import corpus, write_archive
from nlpclf.data import NewsgroupsSource, TextDataModule
from nlpclf.errors import ConfigError
from nlpclf.utils.launch import check_launch


class FakeTrainer:
    def __init__(self, world_size: int, global_rank: int) -> None:
        self.world_size, self.global_rank = world_size, global_rank


def test_global_batch_is_split_over_processes(archive_dir, tmp_path):
    dm = TextDataModule(
        NewsgroupsSource(str(archive_dir)),
        cache_dir=str(tmp_path / "c"),
        batch_size=8,
        eval_batch_size=6,
        max_length=16,
    )
    dm.setup()
    seen = []
    for rank in (0, 1):
        dm.trainer = FakeTrainer(2, rank)
        loader = dm.train_dataloader()
        assert loader.batch_size == 4
        seen.append(set(loader.sampler))
        assert dm.test_dataloader().batch_size == 3
    assert not seen[0] & seen[1] and len(seen[0] | seen[1]) == len(dm.splits["train"])
    dm.trainer = FakeTrainer(3, 0)
    with pytest.raises(ConfigError, match=r"data.batch_size=8 \(global\) does not split evenly"):
        dm.train_dataloader()


def test_evaluation_shards_count_every_example_once():
    shards = [
        list(UnrepeatedDistributedSampler(range(41), num_replicas=2, rank=r, shuffle=False))
        for r in (0, 1)
    ]
    assert sorted(shards[0] + shards[1]) == list(range(41))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["trainer.devices=64"], "trainer.devices=64 CPU processes exceed"),
        (["trainer.precision=16-mixed"], "trainer.precision=16-mixed needs a GPU"),
        (["trainer=gpu", "trainer.devices=2"], "GPUs were asked for"),
    ],
)
def test_impossible_trainer_settings_are_refused(make_cfg, overrides, message):
    if "trainer=gpu" in overrides and torch.cuda.device_count() >= 2:
        pytest.skip("this machine really has two GPUs")
    with pytest.raises(ConfigError, match=message):
        check_launch(make_cfg(*overrides), multirun=False)


def test_multirun_with_rerun_ddp_is_refused(make_cfg):
    with pytest.raises(ConfigError, match="every DDP process run the whole sweep"):
        check_launch(make_cfg("trainer=ddp_sim"), multirun=True)
    check_launch(
        make_cfg("trainer=ddp_sim", "trainer.strategy.start_method=spawn"), multirun=True
    )  # spawned workers do not re-run the sweep
    check_launch(make_cfg("trainer=ddp_sim"), multirun=False)


@pytest.mark.slow
def test_ddp_sim_run_is_one_run_with_exact_counts(tmp_path):
    # odd sizes: a padding sampler would count an example twice
    write_archive(
        tmp_path / "data",
        corpus(train_per_class=20, test_per_class=9, groups=["a.x", "b.y", "c.z"]),
    )
    logs = tmp_path / "logs"
    result = run_cli(
        *conftest.TINY,
        "trainer=ddp_sim",
        "trainer.max_epochs=1",
        "data.val_fraction=0.15",
        "data.batch_size=8",
        "print_config=true",
        f"paths.log_dir={logs}",
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.cache_dir={tmp_path / 'cache'}",
    )
    assert result.returncode == 0, result.stderr[-4000:]
    runs = list((logs / "train" / "runs").iterdir())
    assert len(runs) == 1  # both ranks wrote into one run folder
    run = runs[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test/num_examples"] == 27
    assert metrics["val/num_examples"] == 9
    assert result.stdout.count("CONFIG") == 1  # the config tree, from rank zero only
    log = (run / "train.log").read_text()
    assert log.count("Data ready") == 1  # prepared once, logged by rank zero only
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) >= 1
    assert not (run / "train_ddp_process_1.log").exists()
    assert Path(run / ".hydra" / "config.yaml").is_file()
