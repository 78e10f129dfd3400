from __future__ import annotations

import asyncio
import time

from atom_desktop.core.loop_turns import LoopTurns


async def busy_for(seconds: float, turns: LoopTurns | None) -> None:
    """Work that never waits: only ``turns`` can give other tasks a go."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        if turns is not None:
            await turns.share()


async def others_ran_during(turns: LoopTurns | None) -> int:
    ran = 0
    stop = asyncio.Event()

    async def other() -> None:
        nonlocal ran
        while not stop.is_set():
            ran += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    await asyncio.sleep(0)  # the other task has started and is waiting for a turn
    before = ran
    await busy_for(0.05, turns)
    during = ran - before
    stop.set()
    await task
    return during


def test_busy_work_that_shares_lets_other_tasks_run() -> None:
    # 50 ms of work with a 1 ms budget: a turn after each millisecond.
    assert asyncio.run(others_ran_during(LoopTurns(budget_s=0.001))) >= 10


def test_busy_work_that_does_not_share_holds_the_loop() -> None:
    assert asyncio.run(others_ran_during(None)) == 0


def test_no_turn_is_given_before_the_budget_is_spent() -> None:
    async def main() -> int:
        ran = 0

        async def other() -> None:
            nonlocal ran
            ran += 1

        turns = LoopTurns(budget_s=60.0)
        task = asyncio.create_task(other())
        for _ in range(1000):
            await turns.share()
        seen = ran
        await task
        return seen

    assert asyncio.run(main()) == 0
