"""w2v.studio.mapjobs: a t-SNE map as its own process, with limits, landing in the map cache.

Each test waits for what the job files say (generous timeouts: the machine may be busy), never
for a fixed time."""

import os
import signal

import numpy as np
import pytest

from conftest import end_map_jobs
from w2v import projection
from w2v.runs import ALIVE, process_state, read_json
from w2v.studio import mapjobs

TIMEOUT = 600  # s: a job imports scikit-learn and openTSNE in a fresh interpreter


def blobs(n_per=40, groups=4, dim=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim)) * 5
    labels = np.repeat(np.arange(groups), n_per)
    x = (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32)
    return x, [f"w{i}" for i in range(len(x))]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A cache folder of its own; every job started here is ended with the test."""
    monkeypatch.setenv("W2V_CACHE", str(tmp_path))
    yield tmp_path / "projections"
    end_map_jobs()


def test_a_small_map_is_computed_by_its_own_process_and_lands_in_the_cache(cache):
    x, words = blobs()
    first = mapjobs.request(x, words, "tsne", {"perplexity": 15, "seed": 0})
    assert first.state == mapjobs.RUNNING and first.projection is None
    pid = read_json(cache / "jobs" / first.key / "pid.json")["pid"]
    assert pid != os.getpid()
    done = mapjobs.wait(first.key, TIMEOUT)
    assert done.state == mapjobs.DONE, done.error
    assert done.projection.xy.shape == (len(x), 2) and done.projection.trust > 0.9
    assert not (cache / "jobs" / first.key).exists()  # the job's folder is gone, its map stays
    stored = projection.project(x, words, "tsne", perplexity=15, seed=0)  # the page's own path
    assert stored.cached and stored.key == first.key
    again = mapjobs.request(x, words, "tsne", {"seed": 0, "perplexity": 15})
    assert again.state == mapjobs.DONE and np.array_equal(again.projection.xy, done.projection.xy)


def test_a_second_request_finds_the_first_job_and_another_map_waits_its_turn(cache):
    x, words = blobs()
    a = mapjobs.request(x, words, "tsne", {"seed": 0})
    pid = read_json(cache / "jobs" / a.key / "pid.json")
    b = mapjobs.request(x, words, "tsne", {"seed": 0})  # a second tab asks for the same map
    assert b.key == a.key and b.state == mapjobs.RUNNING
    assert read_json(cache / "jobs" / a.key / "pid.json") == pid and len(mapjobs._procs) == 1
    other = mapjobs.request(x, words, "tsne", {"seed": 1})  # another map: one job at a time
    assert other.state == mapjobs.QUEUED and len(mapjobs._procs) == 1
    assert mapjobs.wait(a.key, TIMEOUT).state == mapjobs.DONE
    assert mapjobs.wait(other.key, TIMEOUT).state == mapjobs.DONE  # started by a poll once a was done


def test_a_killed_job_says_so_and_can_be_tried_again(cache):
    x, words = blobs()
    a = mapjobs.request(x, words, "tsne", {"seed": 2})
    pid = read_json(cache / "jobs" / a.key / "pid.json")
    os.killpg(pid["pid"], signal.SIGKILL)
    failed = mapjobs.wait(a.key, TIMEOUT)
    assert failed.state == mapjobs.FAILED and "stopped before it finished" in failed.error
    assert mapjobs.poll(a.key).state == mapjobs.FAILED  # it stays failed: no new process by itself
    mapjobs.forget(a.key)
    assert mapjobs.request(x, words, "tsne", {"seed": 2}).state == mapjobs.RUNNING
    assert mapjobs.wait(a.key, TIMEOUT).state == mapjobs.DONE


def test_a_job_past_its_time_limit_is_ended_with_a_clear_message(cache, monkeypatch):
    monkeypatch.setenv("W2V_MAP_LIMIT_S", "1")  # the job's own alarm: 2 s
    monkeypatch.setattr(mapjobs, "LIMIT_S", 1.0)
    x, words = blobs(n_per=1500, dim=50)  # 6,000 points: many seconds of t-SNE
    a = mapjobs.request(x, words, "tsne", {"seed": 0})
    failed = mapjobs.wait(a.key, TIMEOUT)
    assert failed.state == mapjobs.FAILED
    assert failed.error.startswith("the map took longer than its limit of 1 s")
    assert process_state(read_json(cache / "jobs" / a.key / "pid.json")) != ALIVE


def test_maps_waiting_at_once_are_bounded(cache, monkeypatch):
    monkeypatch.setattr(mapjobs, "MAX_WAITING", 2)
    x, words = blobs()
    states = [mapjobs.request(x, words, "tsne", {"seed": s}) for s in range(3)]
    assert [s.state for s in states] == [mapjobs.RUNNING, mapjobs.QUEUED, mapjobs.FAILED]
    assert "2 maps are being computed or queued already" in states[2].error
    assert not (cache / "jobs" / states[2].key).exists()  # nothing written for it
    mapjobs.cancel(states[1].key)  # a cancelled map no longer counts
    assert mapjobs.request(x, words, "tsne", {"seed": 2}).state == mapjobs.QUEUED


def test_cancel_ends_the_job_and_keys_are_checked(cache):
    x, words = blobs()
    a = mapjobs.request(x, words, "tsne", {"seed": 3})
    assert mapjobs.cancel(a.key)
    s = mapjobs.poll(a.key)
    assert s.state == mapjobs.FAILED and "cancelled" in s.error
    assert not mapjobs.cancel("0" * 32)  # nothing to cancel
    with pytest.raises(ValueError):
        mapjobs.poll("../../etc")
