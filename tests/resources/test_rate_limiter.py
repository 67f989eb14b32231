"""The GCRA limiter over SQLite and the flock slots, across real processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from flowstone_cli.errors import ConfigError
from flowstone_cli.resources.http_api import HttpApi
from flowstone_cli.resources.rate_limiter import Rate, RateLimiter, parse_rate
from flowstone_cli.resources.slots import SlotGroup
from tests.resources.api_server import ApiServer


def test_parse_rate() -> None:
    assert parse_rate("60/minute") == Rate(60, 60.0, 1)
    assert parse_rate("50/second", burst=5) == Rate(50, 1.0, 5)
    assert parse_rate("5/10s").interval == 2.0
    assert parse_rate("1000 / hour").period == 3600.0
    for bad in ("fast", "10", "0/s", "10/fortnight"):
        with pytest.raises(ConfigError):
            parse_rate(bad)
    with pytest.raises(ConfigError):
        parse_rate("1/s", burst=0)


def test_reservations_follow_the_rate_after_the_burst(tmp_path: Path) -> None:
    limiter = RateLimiter(tmp_path / "limits.sqlite")
    rate = Rate(10, 1.0, 3)
    allowed = []
    for _ in range(10):
        now = time.time()
        allowed.append(now + limiter.reserve("k", rate))
    # The burst goes at once; after it, moments are at least one interval apart.
    gaps = [b - a for a, b in zip(allowed[2:], allowed[3:])]
    assert all(gap >= rate.interval - 1e-3 for gap in gaps), gaps
    assert limiter.reserve("other", rate) == 0.0      # keys are independent


def _hammer(path: str, out: str, count: int) -> None:
    limiter = RateLimiter(Path(path))
    rate = parse_rate("20/second")
    with open(out, "a") as log:
        for _ in range(count):
            limiter.acquire("shared", rate)
            log.write(f"{time.time()}\n")
            log.flush()


def test_processes_share_one_rate(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    procs = [context.Process(target=_hammer, args=(str(tmp_path / "l.sqlite"),
                                                   str(tmp_path / f"{i}.log"), 10))
             for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    times = [float(t) for i in range(4) for t in (tmp_path / f"{i}.log").read_text().split()]
    assert len(times) == 40
    # At most 20 in any second (+1 for the burst, +1 for a late log write).
    assert max(Counter(int(t) for t in times).values()) <= 22


def test_a_slot_is_freed_when_its_holder_is_killed(tmp_path: Path) -> None:
    group = SlotGroup(tmp_path / "slots", 2)
    first = group.try_acquire()
    assert first is not None and group.in_use() == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: take the other slot, say so, then wait to be killed
        held = group.try_acquire()
        os.write(write, b"1" if held else b"0")
        time.sleep(600)
        os._exit(0)
    assert os.read(read, 1) == b"1"
    assert group.try_acquire() is None                # both taken
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    again = group.try_acquire()
    assert again is not None                          # the dead holder's slot is free
    again.release()
    first.release()
    assert group.in_use() == 0


def _call(url: str, state: str, count: int) -> None:
    api = HttpApi.model_validate({"base_url": url, "state_dir": state,
                                  "max_concurrency": 2}).setup()
    for i in range(count):
        api.post("/v1/complete", json={"i": i})


def test_max_concurrency_holds_across_processes(tmp_path: Path) -> None:
    with ApiServer(1000, delay=0.1) as server:
        context = multiprocessing.get_context("fork")
        procs = [context.Process(target=_call, args=(server.url, str(tmp_path), 4))
                 for _ in range(3)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(120)
            assert proc.exitcode == 0
        assert server.served == 12
        assert server.max_in_flight <= 2
