"""Devices for the sync engine tests: an encrypted store and an engine each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from atom_desktop.core.ids import IdFactory
from atom_desktop.store.automations import AutomationRepository
from atom_desktop.store.database import Database
from atom_desktop.store.outbox import Outbox
from atom_desktop.store.task_types import Task
from atom_desktop.store.tasks import TaskRepository
from atom_desktop.sync.engine import SyncEngine
from atom_desktop.sync.server.connection import parse_address
from tests.support.sync_server import Device, SyncDatabase


@dataclass
class Agent:
    """One device: its store, repositories, engine and server role."""

    name: str
    device: Device
    db: Database
    tasks: TaskRepository
    automations: AutomationRepository
    outbox: Outbox
    engine: SyncEngine
    server: SyncDatabase

    def all_tasks(self) -> dict[str, Task]:
        """Every task, by id."""
        page = self.tasks.page(limit=500)
        return {task.id: task for task in page.items}

    def task_titles(self) -> dict[str, str]:
        """Every task's title, by id."""
        return {task_id: task.title for task_id, task in self.all_tasks().items()}

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A session of this device's role on the server."""
        return self.server.connect_as(self.device.role, self.device.password, **kwargs)


def build_agent(
    name: str, device: Device, db: Database, server: SyncDatabase, **engine: Any
) -> Agent:
    """An agent over ``db`` that syncs as ``device``."""
    url = server.server.tcp_url(device.role, server.name)
    address = parse_address(f"{url}?password={device.password}")
    ids = IdFactory()
    return Agent(
        name=name,
        device=device,
        db=db,
        tasks=TaskRepository(db, ids),
        automations=AutomationRepository(db, ids),
        outbox=Outbox(db),
        engine=SyncEngine(db, address, **engine),
        server=server,
    )


def reroute(agent: Agent, port: int, **engine: Any) -> None:
    """Give ``agent`` an engine that reaches its server through ``127.0.0.1:port`` (a proxy)."""
    server = agent.server
    url = f"postgresql://{agent.device.role}@127.0.0.1:{port}/{server.name}"
    agent.engine.close()
    agent.engine = SyncEngine(
        agent.db, parse_address(f"{url}?password={agent.device.password}"), **engine
    )
