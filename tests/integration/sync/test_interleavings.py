"""Property: any interleaving of edits and syncs on two devices converges to one state."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atom_desktop.core.hlc import wall_ms
from atom_desktop.store.task_types import TaskCreate, TaskUpdate
from tests.support.sync_agents import Agent

MakeAgent = Callable[..., Agent]

_steps = st.lists(
    st.tuples(
        st.sampled_from([0, 1]),
        st.sampled_from(["create", "update", "delete", "push", "pull"]),
        st.integers(0, 5),
    ),
    max_size=25,
)
_examples = itertools.count()


def _quiesce(agents: list[Agent]) -> None:
    """Sync every device until nothing is left to send or receive."""
    for _ in range(3):
        for agent in agents:
            agent.engine.sync_once()


def _live_titles(agent: Agent) -> dict[str, str]:
    with agent.connect() as conn:
        rows = conn.execute("SELECT id, data FROM atom_sync.tasks WHERE NOT deleted").fetchall()
    return {row[0]: row[1]["title"] for row in rows}


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=_steps, skew=st.integers(-5_000, 5_000))
def test_devices_converge_whatever_the_interleaving(
    make_agent: MakeAgent, steps: list[tuple[int, str, int]], skew: int
) -> None:
    example = next(_examples)
    tenant = f"tenant{example}"
    agents = [make_agent(f"a{example}", tenant), make_agent(f"b{example}", tenant, page_size=3)]
    # B's clock is off by up to five seconds either way: HLC orders by it all the same.
    agents[1].db.wall_ms = lambda: wall_ms() + skew
    for who, action, index in steps:
        agent = agents[who]
        ids = sorted(agent.all_tasks())
        target = ids[index % len(ids)] if ids else None
        if action == "create":
            agent.tasks.create(TaskCreate(title=f"{agent.name}-{index}"))
        elif action == "update" and target is not None:
            agent.tasks.update(target, TaskUpdate(title=f"{agent.name}-edit-{index}"))
        elif action == "delete" and target is not None:
            agent.tasks.delete(target)
        elif action == "push":
            agent.engine.push_once()
        elif action == "pull":
            agent.engine.pull_once()
    _quiesce(agents)

    first, second = (agent.all_tasks() for agent in agents)
    assert first == second
    assert {task_id: task.title for task_id, task in first.items()} == _live_titles(agents[0])
    for agent in agents:
        assert agent.outbox.count() == 0
    # Every conflict kept was a local change whose row now holds a newer version.
    for agent in agents:
        for conflict in agent.engine.replica.conflicts():
            assert (conflict.winner_hlc, conflict.winner_device_id) > (
                conflict.hlc,
                agent.engine.replica.device_id(),
            )
