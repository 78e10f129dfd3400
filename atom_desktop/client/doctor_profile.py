"""The doctor's checks of one profile: keyring, database key and integrity, the
running agent and its health, sync and integrations. Each only looks (see
client/doctor.py): the keyring is probed without a prompt, the database is
opened read-only, nothing is written."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from atom_desktop.client.agent_client import AgentClient
from atom_desktop.client.discovery import owner_token
from atom_desktop.client.doctor import Finding, Outcome
from atom_desktop.config.paths import AppPaths
from atom_desktop.config.settings import Settings
from atom_desktop.core.errors import AtomError
from atom_desktop.core.redaction import Redactor
from atom_desktop.platform.instance_lock import LOCK_FILE_NAME, answers, health_url, read_info
from atom_desktop.secrets.database_key import KEY_ENTRY, DatabaseKeyPolicy
from atom_desktop.secrets.keyring_vault import KeyringState, KeyringVault
from atom_desktop.secrets.profile import keyring_service

#: How long the doctor waits for the agent's answers.
AGENT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class RunningAgent:
    """The profile's agent, when its lock file names a port that answers."""

    port: int
    pid: int | None


def find_agent(paths: AppPaths) -> RunningAgent | None:
    """The running agent of the profile (its lock file's port answers /health), or None."""
    info = read_info(paths.data_dir / LOCK_FILE_NAME) or {}
    url = health_url(info)
    if url is None or not answers(url, timeout=AGENT_TIMEOUT_S):
        return None
    pid = info.get("pid")
    return RunningAgent(port=int(info["port"]), pid=pid if isinstance(pid, int) else None)


def vault_of(paths: AppPaths) -> KeyringVault:
    """The profile's keyring entries (the probe reads the database key's entry)."""
    return KeyringVault(keyring_service(paths.data_dir), probe_entry=KEY_ENTRY)


def check_keyring(vault: KeyringVault) -> Finding:
    """Which keyring backend, and whether it is there and unlocked (never prompts)."""
    status = vault.probe()
    if status.state is KeyringState.AVAILABLE:
        return Finding("keyring", Outcome.OK, f"{status.backend}, unlocked")
    if status.state is KeyringState.LOCKED:
        return Finding(
            "keyring",
            Outcome.PROBLEM,
            status.explain(),
            "Unlock it (log in to the desktop session again, or open the keyring in your "
            "desktop's passwords app); the agent cannot read its keys while it is locked.",
        )
    if status.state is KeyringState.PLAINTEXT:
        return Finding(
            "keyring",
            Outcome.WARNING,
            status.explain(),
            "Use a real keyring (Secret Service, macOS Keychain, Windows Credential Manager).",
        )
    return Finding(
        "keyring",
        Outcome.WARNING,
        status.explain(),
        "Secrets go to 0600 files in the config folder instead; start a Secret Service "
        "(gnome-keyring, KWallet) to keep them in a keyring.",
    )


def check_database(
    settings: Settings, paths: AppPaths, vault: KeyringVault, redactor: Redactor
) -> list[Finding]:
    """The database key is where its record says, opens the database, and the file is sound."""
    db = paths.database
    if not db.exists():
        return [
            Finding(
                "database-key", Outcome.SKIPPED, f"no database yet ({db}); the first start makes it"
            )
        ]
    try:
        key = DatabaseKeyPolicy(settings, paths, vault, redactor).resolve()
    except AtomError as exc:
        return [Finding("database-key", Outcome.PROBLEM, exc.message, exc.hint or "")]
    found = Finding("database-key", Outcome.OK, f"in the {key.describe()}")
    if key.storage == "file":
        found = Finding(
            "database-key",
            Outcome.WARNING,
            key.describe(),
            "Anyone who can read that file can read your data; use an OS keyring if you can.",
        )
    return [found, _integrity(db, key.key)]


def _integrity(db: Any, key: bytes) -> Finding:
    from atom_desktop.store.engine import connect  # noqa: PLC0415 - loads SQLCipher

    try:
        conn = connect(db, key)
    except Exception as exc:
        return Finding(
            "database",
            Outcome.PROBLEM,
            f"{db} does not open with its key: {exc}",
            "Restore the database (with its -wal file) from a backup; the key was found.",
        )
    try:
        # quick_check: every page and index is readable and well-formed, in a
        # fraction of integrity_check's time (it skips matching index contents).
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check").fetchall()]
    finally:
        conn.close()
    if rows == ["ok"]:
        return Finding("database", Outcome.OK, f"{db} opens with its key and passes quick_check")
    return Finding(
        "database",
        Outcome.PROBLEM,
        f"{db} is damaged: " + "; ".join(rows[:3]),
        "Stop the agent and restore the database from a backup (with its -wal file).",
    )


def check_agent(agent: RunningAgent | None, client: AgentClient | None) -> Finding:
    """Whether the profile's agent runs, and what its health says."""
    if agent is None or client is None:
        return Finding(
            "agent",
            Outcome.WARNING,
            "not running",
            "Start it: atom-desktop (the window) or atom-desktop serve (headless).",
        )
    try:
        health = client.request("GET", "/health")
    except AtomError as exc:
        return Finding(
            "agent",
            Outcome.PROBLEM,
            f"the agent on port {agent.port} answers, but not its health: {exc.message}",
            "Look at its log and error reports; restart it if it stays so.",
        )
    pid = f", PID {agent.pid}" if agent.pid else ""
    found = (
        f"running on port {agent.port}{pid}, version {health.get('version')}, "
        f"up {float(health.get('uptime_s', 0)):.0f} s"
    )
    return Finding("agent", Outcome.OK, found)


def check_sync(settings: Settings, paths: AppPaths, client: AgentClient | None) -> Finding:
    """Sync's server, as the running agent sees it (or by connecting, with no agent)."""
    from atom_desktop.sync.connection_settings import SyncConnectionStore  # noqa: PLC0415

    store = SyncConnectionStore(paths.config_file, vault_of(paths))
    configured = store.configured()
    if configured is None and settings.sync_url is None:
        return Finding("sync", Outcome.SKIPPED, "not configured")
    if client is not None:
        with contextlib.suppress(AtomError):
            status = client.request("GET", "/sync/status")
            state, server = status.get("state"), status.get("server")
            if state in ("up_to_date", "syncing"):
                return Finding("sync", Outcome.OK, f"{state.replace('_', ' ')} with {server}")
            return Finding(
                "sync",
                Outcome.PROBLEM if state == "error" else Outcome.WARNING,
                f"{state} ({server}): {status.get('last_error') or 'no error recorded'}",
                "Test the connection: atom-desktop sync test. Changes wait in the queue, "
                "none are lost.",
            )
    from atom_desktop.sync.connection_check import check_connection  # noqa: PLC0415

    url = configured.url if configured else settings.sync_url.get_secret_value()  # type: ignore[union-attr]
    try:
        report = check_connection(store.connection_url(url), redactor=None)
    except AtomError as exc:
        return Finding("sync", Outcome.PROBLEM, exc.message, exc.hint or "")
    return Finding("sync", Outcome.OK, report.describe())


def check_integrations(client: AgentClient | None) -> Finding:
    """The connected accounts' state, as the running agent last found it."""
    if client is None:
        return Finding("integrations", Outcome.SKIPPED, "the agent is not running to ask")
    try:
        accounts = client.request("GET", "/integrations")
    except AtomError as exc:
        return Finding(
            "integrations",
            Outcome.WARNING,
            f"the agent did not say: {exc.message}",
            "Check that the owner token is readable (atom-desktop token show).",
        )
    if not accounts:
        return Finding("integrations", Outcome.SKIPPED, "none connected")
    troubled = [a for a in accounts if a.get("status") in ("reconnect_needed", "error")]
    if not troubled:
        names = ", ".join(f"{a['provider_name']} ({a['account']})" for a in accounts)
        return Finding("integrations", Outcome.OK, f"connected: {names}")
    said = "; ".join(
        f"{a['provider_name']} ({a['account']}): {a['status']}"
        + (f", {a['last_error']}" if a.get("last_error") else "")
        for a in troubled
    )
    return Finding(
        "integrations",
        Outcome.PROBLEM,
        said,
        "Reconnect them: atom-desktop integrations reconnect ID (or the Integrations page).",
    )


def agent_client(
    settings: Settings, paths: AppPaths, redactor: Redactor, agent: RunningAgent | None
) -> AgentClient | None:
    """A client of the running agent with the owner token, or None without an agent."""
    if agent is None:
        return None
    try:
        token = owner_token(settings, paths, redactor)
    except AtomError:
        token = None  # e.g. a locked keyring: health needs no token, and says so
    return AgentClient(
        f"http://127.0.0.1:{agent.port}", token.secret if token else None, timeout=AGENT_TIMEOUT_S
    )
