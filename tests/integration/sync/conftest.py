"""A real PostgreSQL for the sync tests: one server per session, one database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from atom_desktop.store.database import Database
from atom_desktop.sync.server.migrator import init_server
from atom_desktop.sync.server.users import add_user
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.sync_agents import Agent, build_agent
from tests.support.sync_server import Device, DeviceFactory, SyncDatabase


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's server; stopping it fails if any of its processes is left."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[SyncDatabase]:
    """A fresh, empty database, dropped (with its sessions) after the test."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    db = SyncDatabase(postgres_server, f"{prefix}_db", prefix)
    with psycopg.connect(postgres_server.admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db.name)))
    try:
        yield db
    finally:
        with psycopg.connect(postgres_server.admin_url(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db.name)))
            roles = conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"{prefix}%",)
            ).fetchall()
            for (role,) in roles:
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def synced(database: SyncDatabase) -> SyncDatabase:
    """:func:`database` with the server schema applied."""
    init_server(database.admin)
    return database


@pytest.fixture
def make_device(synced: SyncDatabase) -> DeviceFactory:
    """``make_device(name, tenant)``: a login role in ``tenant``, made by add-user."""

    def make(name: str, tenant: str) -> Device:
        role = synced.role(name)
        password = f"pw-{uuid.uuid4().hex}"
        outcome = add_user(synced.admin, tenant=tenant, role=role, password=password)
        return Device(role, password, outcome.tenant_id)

    return make


@pytest.fixture
def make_agent(
    synced: SyncDatabase, make_device: DeviceFactory, tmp_path: Path
) -> Iterator[Callable[..., Agent]]:
    """``make_agent(name, tenant, **engine_options)``: a device with its own encrypted store."""
    agents: list[Agent] = []

    def make(name: str, tenant: str = "acme", **engine: Any) -> Agent:
        device = make_device(name, tenant)
        db = Database.open(tmp_path / f"{name}.db", os.urandom(32))
        agent = build_agent(name, device, db, synced, **engine)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.engine.close()
        agent.db.close()
