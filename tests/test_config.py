"""Every config option composes and builds, so a typo in conf/ fails here, not in a user's run."""

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from nlpclf.utils.cli import config_dir
from nlpclf.utils.instantiate import instantiate_component, instantiate_many, to_plain

CONF = Path(config_dir())


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


CASES = [
    (group, option)
    for group in (
        "model",
        "optimizer",
        "scheduler",
        "trainer",
        "callbacks",
        "logger",
        "experiment",
        "debug",
    )
    for option in options(group)
]


@pytest.mark.parametrize(("group", "option"), CASES)
def test_every_option_composes_and_builds(make_cfg, group, option):
    model = {"newsgroups_rnn": "rnn", "newsgroups_minilm": "transformer"}.get(option)
    cfg = make_cfg(f"{group}={option}", model=model)
    instantiate_component(cfg.data, "data")
    model = instantiate_component(
        cfg.model, "model", optimizer=to_plain(cfg.optimizer), scheduler=to_plain(cfg.scheduler)
    )
    assert model.hparams.optimizer["_target_"] == cfg.optimizer._target_
    callbacks = instantiate_many(cfg.get("callbacks"), "callbacks")
    loggers = instantiate_many(cfg.get("logger"), "logger")
    if cfg.trainer.accelerator == "gpu":  # nothing here has a GPU; composing is enough
        return
    instantiate_component(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)


def test_data_sources_compose(make_cfg, tmp_path):
    cfg = make_cfg(
        "data=files",
        f"data.source.train_file={tmp_path}/a.csv",
        f"data.source.test_file={tmp_path}/b.csv",
    )
    assert instantiate_component(cfg.data, "data").source.train_file.endswith("a.csv")
    cfg = make_cfg("data=hub")
    assert instantiate_component(cfg.data, "data").source.name == "SetFit/20_newsgroups"


def test_outputs_go_under_log_dir_task_runs_timestamp(tmp_path):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.log_dir={tmp_path}"], return_hydra_config=True)
    assert cfg.hydra.run.dir.startswith(f"{tmp_path}/train/runs/")
    assert cfg.hydra.sweep.dir.startswith(f"{tmp_path}/train/multiruns/")
    raw_paths = OmegaConf.to_container(cfg.paths, resolve=False)
    assert raw_paths["output_dir"] == "${hydra:runtime.output_dir}"


def test_common_trainer_options_need_no_plus(make_cfg):
    cfg = make_cfg(
        "trainer.limit_train_batches=20",
        "trainer.limit_test_batches=0.1",
        "trainer.max_steps=5",
        "trainer.accumulate_grad_batches=2",
        "trainer.num_sanity_val_steps=0",
        "trainer.val_check_interval=0.5",
    )
    trainer = instantiate_component(cfg.trainer, "trainer", logger=False)
    assert trainer.limit_train_batches == 20 and trainer.max_steps == 5
    assert trainer.accumulate_grad_batches == 2


@pytest.mark.parametrize("launcher", ["slurm", "local"])
def test_cluster_launcher_configs_compose(launcher):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert "submitit" in cfg.hydra.launcher._target_
    assert cfg.hydra.launcher.timeout_min > 0
