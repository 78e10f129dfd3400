from __future__ import annotations

import logging
import threading

import pytest

from atom_desktop.core.events import AgentStateChanged, Event, EventBus, TaskChanged


def test_ids_increase_strictly_and_payloads_keep_their_type() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    bus.publish(TaskChanged(task_id="a", op="created"))
    bus.publish(AgentStateChanged(state="running"))
    assert [e.id for e in seen] == [1, 2]
    assert isinstance(seen[0].payload, TaskChanged)
    assert seen[0].payload.task_id == "a"
    assert seen[1].kind == "agent.state"
    assert bus.last_id == 2


def test_subscribe_to_kinds_and_unsubscribe_twice() -> None:
    bus = EventBus()
    tasks: list[Event] = []
    unsubscribe = bus.subscribe(tasks.append, TaskChanged.kind)
    bus.publish(AgentStateChanged(state="running"))
    bus.publish(TaskChanged(task_id="a", op="created"))
    unsubscribe()
    unsubscribe()
    bus.publish(TaskChanged(task_id="b", op="created"))
    assert [e.payload for e in tasks] == [TaskChanged(task_id="a", op="created")]


def test_failing_listener_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    before: list[int] = []
    after: list[int] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    bus.subscribe(lambda e: before.append(e.id))
    bus.subscribe(broken)
    bus.subscribe(lambda e: after.append(e.id))
    with caplog.at_level(logging.ERROR):
        bus.publish(TaskChanged(task_id="a", op="created"))
        bus.publish(TaskChanged(task_id="b", op="created"))
    assert before == [1, 2]
    assert after == [1, 2]
    failures = [r for r in caplog.records if "listener" in r.getMessage()]
    assert len(failures) == 2
    assert failures[0].exc_info is not None


def test_many_publishers_deliver_in_id_order() -> None:
    bus = EventBus(history=10_000)
    seen: list[int] = []
    bus.subscribe(lambda e: seen.append(e.id))

    def publish_many() -> None:
        for _ in range(500):
            bus.publish(AgentStateChanged(state="x"))

    threads = [threading.Thread(target=publish_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == list(range(1, 2001))


def test_since_replays_and_reports_a_gap() -> None:
    bus = EventBus(history=3)
    for i in range(5):
        bus.publish(TaskChanged(task_id=str(i), op="created"))
    events, gap = bus.since(3)
    assert [e.id for e in events] == [4, 5]
    assert not gap
    events, gap = bus.since(1)  # event 2 is no longer kept
    assert [e.id for e in events] == [3, 4, 5]
    assert gap
    events, gap = bus.since(5)
    assert events == []
    assert not gap
