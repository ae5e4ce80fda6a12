"""The settings schema: one declaration per setting drives validation, the CLI and the job's flags."""

import argparse
import dataclasses
import subprocess
import sys

import pytest

from w2v import config
from w2v.__main__ import build_parser
from w2v.config import TrainConfig
from w2v.errors import W2VError


def parse(*flags):
    return config.from_args(build_parser().parse_args(["train", "c.txt", "--out", "r", *flags]))


def test_every_field_declares_its_help_label_group_and_flag():
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    assert [s.name for s in config.settings()] == names
    for s in config.settings():
        assert s.help and s.label and s.group in config.GROUPS
        assert s.flag.startswith("--")
        if s.type in ("int", "float"):
            assert s.low is not None and s.high is not None, s.name  # every number is bounded


def test_every_field_appears_in_train_help():
    out = subprocess.run([sys.executable, "-m", "w2v", "train", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for s in config.settings():
        assert s.flag in out, s.flag


@pytest.mark.parametrize("cfg", [TrainConfig(), TrainConfig.preset("seed"),
                                 TrainConfig(dim=12, lr=0.5, min_lr=0.25, keep_punct=True, sample=0.0,
                                             noise="window", mode="cbow", probe_words=("king", "queen"),
                                             device="cuda:1", threads=3, batch_size=128, eval="none"),
                                 TrainConfig(text_field="review body", phrases=2, phrase_threshold=50.0,
                                             phrase_min_count=3)])
def test_the_job_flags_reproduce_the_config_exactly(cfg):
    assert parse(*config.to_args(cfg)) == cfg


def test_flags_fill_in_the_preset_of_the_recipe():
    assert parse() == TrainConfig()
    seed = parse("--recipe", "seed", "--dim", "50")
    assert seed == TrainConfig.preset("seed", dim=50)
    assert parse("--lr", "0.01").min_lr == TrainConfig().min_lr  # a lower final rate is kept
    assert parse("--recipe", "seed", "--lr", "0.001").min_lr == 0.001  # never above the starting rate


def test_cbow_starts_at_its_own_learning_rate_unless_one_is_given():
    # word2vec.c's CBOW default: at skip-gram's 0.025 CBOW trailed gensim on the sample (README)
    assert (TrainConfig().lr, TrainConfig(mode="cbow").lr, TrainConfig(mode="cbow", lr=0.01).lr) \
        == (0.025, 0.05, 0.01)
    assert parse("--mode", "cbow").lr == 0.05 and parse("--mode", "cbow", "--lr", "0.02").lr == 0.02
    assert TrainConfig().with_values({"mode": "cbow"}).lr == 0.05  # the form's switch of architecture
    assert TrainConfig(lr=0.03).with_values({"mode": "cbow"}).lr == 0.03  # a rate chosen is kept
    assert TrainConfig(mode="cbow").with_values({"mode": "skipgram"}).lr == 0.025
    assert TrainConfig.preset("seed").lr == 0.003
    p = argparse.ArgumentParser()
    config.add_arguments(p)
    assert "(default 0.025; cbow: 0.05)" in " ".join(p.format_help().split())  # --help says both


@pytest.mark.parametrize("values, message", [
    ({"window": 0}, "--window must be between 1 and 100"),
    ({"window": 100_000_000}, "--window must be between 1 and 100"),
    ({"negative": 10_000_000}, "--negative must be between 1 and 100"),
    ({"threads": 100_000}, "--threads must be between 0 and 512"),
    ({"epochs": 1_000_000_000}, "--epochs must be between 1 and 10,000"),
    ({"dim": 2.5}, "--dim must be a whole number"),
    ({"dim": True}, "--dim must be a whole number"),
    ({"sample": float("nan")}, "--sample must be a number"),
    ({"mode": "glove"}, "--mode must be one of skipgram, cbow"),
    ({"device": "tpu"}, "--device must be one of auto, cpu, cuda"),
    ({"min_lr": 0.5}, "--min-lr must be between 0 and --lr"),
    ({"probe_words": ("a",) * 101}, "--probe takes at most 100 words"),
])
def test_out_of_bounds_settings_are_refused_naming_the_flag(values, message):
    with pytest.raises(W2VError, match=message.replace("(", r"\(")):
        TrainConfig().with_values(values)


def test_the_seed_recipe_refuses_cbow_instead_of_training_skipgram():
    with pytest.raises(W2VError, match="--recipe seed trains skip-gram only"):
        TrainConfig.preset("seed", mode="cbow").validate()


def test_a_bad_flag_is_one_line_and_exit_2_before_anything_is_written(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "w2v", "train", "--out", str(out), "--window", "100000000"],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "--window must be between 1 and 100" in p.stderr
    assert not out.exists()


def test_the_config_module_needs_no_torch():
    code = "import sys, w2v.config; w2v.config.TrainConfig().validate(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
