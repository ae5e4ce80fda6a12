"""The Train page's settings form through AppTest: generated group by group from the settings
schema (titles, labels, flags, help), a setting added to the schema shows without a page change,
the seed preset, CBOW's own learning rate, and what the settings cost shown beside them."""

import dataclasses

import pytest
from streamlit.testing.v1 import AppTest

from w2v import config
from w2v.errors import W2VError
from w2v.runs import Run
from w2v.studio import estimate, form

from test_pages_train import PAGE, click, env, page, poll_until  # noqa: F401  (env: the fixture)


def opened(corpus) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["corpus_path"] = str(corpus)
    at.run()
    assert not at.exception
    return at


def sections(at) -> dict:
    return {e.label: e for e in at.expander}


def test_each_schema_group_is_a_section_of_labelled_explained_settings(env):
    at = opened(env[1])
    shown = sections(at)
    assert list(shown) == [title for title, _ in config.GROUPS.values()]
    for group, (title, blurb) in config.GROUPS.items():
        settings = [s for s in config.settings() if s.group == group]
        assert [m.value for m in shown[title].markdown] == [f"**{s.label}** `{s.flag}`" for s in settings]
        assert [c.value for c in shown[title].caption] == [blurb, *(s.help for s in settings)]
    assert "**Context window** `--window`" in [m.value for m in shown["Model"].markdown]


def test_a_setting_added_to_the_schema_shows_in_its_group_without_a_page_change(env, monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class WithWarmup(config.TrainConfig):
        warmup: int = config.setting(0, "words trained first at a rising learning rate", label="Warm-up",
                                     group="schedule", low=0, high=10**9)

    monkeypatch.setattr(config, "TrainConfig", WithWarmup)
    at = opened(env[1])
    schedule = sections(at)["Schedule"]
    assert "**Warm-up** `--warmup`" in [m.value for m in schedule.markdown]
    assert "words trained first at a rising learning rate" in [c.value for c in schedule.caption]
    assert at.number_input(key="cfg-word2vec-warmup").value == 0
    assert form.make_config({"warmup": 7}).warmup == 7
    with pytest.raises(W2VError, match="--warmup must be between 0"):
        form.make_config({"warmup": -1})


def test_the_seed_preset_fills_the_form_and_trains_the_lectures_recipe(env):
    runs, corpus = env
    at = opened(corpus)
    at.radio(key="preset").set_value("seed").run()
    keys = {f.name: f.key for f in form.fields("seed")}
    assert [at.number_input(key=keys[n]).value for n in ("dim", "lr", "batch_size", "sample")] == \
        [300, 0.003, 512, 1e-5]
    assert at.selectbox(key=keys["recipe"]).value == "seed"
    for name, value in {"dim": 10, "epochs": 1, "min_count": 1, "threads": 1}.items():
        at.number_input(key=keys[name]).set_value(value)
    at.selectbox(key=keys["eval"]).set_value("none")
    at.text_input(key="run_name").set_value("seeded")
    click(at, "Start training")
    assert not at.exception and not at.error
    run = Run(runs / "seeded")
    poll_until(at, run, lambda st: st.get("state") == "finished", timeout=120)
    cfg = run.config()["train"]
    assert (cfg["recipe"], cfg["lr"], cfg["batch_size"], cfg["dim"]) == ("seed", 0.003, 512, 10)


def test_choosing_cbow_shows_its_own_learning_rate(env):
    at = opened(env[1])
    assert at.number_input(key=form.key("word2vec", "lr", "skipgram")).value == 0.025
    at.selectbox(key=form.key("word2vec", "mode")).set_value("cbow").run()
    assert at.number_input(key=form.key("word2vec", "lr", "cbow")).value == 0.05


def test_what_the_settings_cost_shows_beside_them_without_training_again(env, monkeypatch):
    calibrations = []
    measure = estimate.words_per_sec
    monkeypatch.setattr(estimate, "words_per_sec", lambda *a, **k: calibrations.append(1) or measure(*a, **k))
    at = page(env[1])  # dim 10, min_count 1: 48 words
    assert not at.metric and "press Estimate" in " ".join(c.value for c in at.caption)  # nothing read yet
    click(at, "Estimate")
    where = {m.label: e.label for e in at.expander for m in e.metric}
    assert where == {"Parameter memory": "Model", "Vocabulary": "Vocabulary and sampling",
                     "Pairs per epoch": "Vocabulary and sampling", "Estimated training time": "Schedule"}
    shown = {m.label: m for m in at.metric}
    assert shown["Parameter memory"].value == "3.8 KiB" and "--dim" in shown["Parameter memory"].help
    assert shown["Estimated training time"].value != "–"
    at.number_input(key=form.key("word2vec", "epochs")).set_value(4).run()  # the same speed holds
    assert {m.label: m for m in at.metric}["Estimated training time"].value != "–"
    at.number_input(key=form.key("word2vec", "dim")).set_value(20).run()  # memory follows at once
    shown = {m.label: m for m in at.metric}
    assert shown["Parameter memory"].value == "7.5 KiB"  # 2 x 48 x 20 x 4 bytes
    time = shown["Estimated training time"]
    assert time.value == "–" and "press Estimate" in time.help  # the speed may differ: not guessed
    assert len(calibrations) == 1  # only the button trains
