"""``atom-desktop integrations ...``: the services the agent acts in, from a terminal.

A secret (a bot token, an API key and its secret, an OAuth client secret) is
typed at a prompt that does not echo, or read from stdin; never taken from
the command line, where every user of the computer can read it in the
process list. A browser sign-in is started here and finished in a browser:
the command prints the address, opens it when it can, and waits for the
agent to say how it went.
"""

from __future__ import annotations

import getpass
import sys
import time
import webbrowser
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from atom_desktop.client.agent_client import AgentClient
from atom_desktop.client.commands import emit, local_time, table
from atom_desktop.core.errors import AtomError, ConfigError

#: Seconds between reads of the account while a sign-in is waited for.
POLL_S = 0.5
#: The agent keeps a sign-in's state for ten minutes; waiting longer is pointless.
SIGN_IN_TIMEOUT_S = 600.0
#: Seconds waited past a device code's expiry, for the agent's last poll to land.
DEVICE_GRACE_S = 10.0
#: Longest error text shown in a table cell.
ERROR_WIDTH = 60
#: What ``Ctrl-C`` leaves as the exit code (128 + SIGINT), as the other commands do.
INTERRUPTED = 130

CLI = "atom-desktop integrations"
_CREDENTIAL_WORDS = {
    "bot_token": "bot token",
    "api_key": "API key",
    "user_token": "access token",
}


# -- providers ------------------------------------------------------------------------------


def how_it_connects(provider: Mapping[str, Any]) -> str:
    """The provider's way in, as the table shows it (``oauth2 + device`` with a device grant)."""
    auth = str(provider["auth"])
    return f"{auth} + device" if auth == "oauth2" and provider["device_grant"] else auth


def find_provider(client: AgentClient, provider_id: str) -> dict[str, Any]:
    """The catalogue record of ``provider_id``; AtomError naming the command that lists them."""
    for provider in client.request("GET", "/integrations/providers"):
        if provider["id"] == provider_id:
            return dict(provider)
    raise AtomError(
        f"There is no integration provider {provider_id!r}.",
        hint=f"List them with: {CLI} providers",
    )


def providers(
    client: AgentClient, *, category: str | None, as_json: bool, out: TextIO = sys.stdout
) -> int:
    """``integrations providers [--category C]``: the catalogue and how each connects."""
    data = client.request("GET", "/integrations/providers")
    chosen = [p for p in data if category is None or p["category"] == category]
    if emit(chosen, as_json, out):
        return 0
    if not chosen:
        categories = ", ".join(sorted({str(p["category"]) for p in data}))
        out.write(f"No provider is in the category {category!r}; the categories: {categories}.\n")
        return 1
    rows = [
        (
            p["id"],
            p["name"],
            p["category"],
            how_it_connects(p),
            _client_state(p),
            " ".join(p["parameters"]) or "-",
        )
        for p in chosen
    ]
    table(rows, ("id", "name", "category", "connects with", "client", "needs"), out)
    return 0


def _client_state(provider: Mapping[str, Any]) -> str:
    # Only an OAuth provider has a client (an app registered with it) to set.
    if provider["auth"] != "oauth2":
        return "-"
    return "set" if provider["client_configured"] else "not set"


def set_client(
    client: AgentClient,
    provider_id: str,
    *,
    client_id: str,
    secret_stdin: bool,
    as_json: bool,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> int:
    """``integrations set-client PROVIDER --client-id ID [--client-secret-stdin]``."""
    provider = find_provider(client, provider_id)
    if provider["auth"] != "oauth2":
        raise AtomError(
            f"{provider['name']} is connected with a key; it has no OAuth client to set.",
            hint=f"Use: {CLI} add-key {provider_id}",
        )
    body: dict[str, str] = {"client_id": client_id}
    if secret_stdin:
        body["client_secret"] = read_secret(
            stdin, f"Client secret of the {provider['name']} app (not shown): ", "client secret"
        )
    data = client.request("PUT", f"/integrations/providers/{provider_id}/client", json=body)
    if not emit(data, as_json, out):
        kept = " and its secret in the OS keyring" if "client_secret" in body else ""
        out.write(f"Set the client id of {data['name']} (kept in the config file{kept}).\n")
    return 0


# -- accounts -------------------------------------------------------------------------------


def shortened(text: str | None, width: int = ERROR_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters (``...`` marks a cut)."""
    if not text:
        return "-"
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 3].rstrip() + "..."


def accounts(client: AgentClient, *, as_json: bool, out: TextIO = sys.stdout) -> int:
    """``integrations list``: every account, its status, last check and last error."""
    data = client.request("GET", "/integrations")
    if emit(data, as_json, out):
        return 0
    if not data:
        out.write(
            f"No integrations yet. Connect one with: {CLI} connect PROVIDER "
            f"(or {CLI} add-key PROVIDER for a key).\n"
        )
        return 0
    rows = [
        (
            a["id"],
            a["provider"],
            a["account"] or "-",
            a["status"],
            local_time(a["checked_at"]) or "never",
            shortened(a["last_error"]),
        )
        for a in data
    ]
    table(rows, ("id", "provider", "account", "status", "last check", "last error"), out)
    return 0


def add_key(
    client: AgentClient,
    provider_id: str,
    *,
    parameters: Mapping[str, str],
    as_json: bool,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> int:
    """``integrations add-key PROVIDER``: the credential comes from stdin or a silent prompt.

    One line (the token or key); two for a ``key_secret`` provider (the key,
    then the secret). The agent checks it before it keeps it; one it could
    not check now (offline) is kept all the same, and this says so.
    """
    provider = find_provider(client, provider_id)
    name = str(provider["name"])
    if provider["auth"] == "oauth2":
        raise AtomError(
            f"{name} is connected by signing in, not with a key.",
            hint=f"Use: {CLI} connect {provider_id}",
        )
    _require_parameters(provider, parameters)
    body: dict[str, Any] = {"provider": provider_id, "parameters": dict(parameters)}
    if provider["auth"] == "key_secret":
        body["key"] = read_secret(stdin, f"{name} key (not shown): ", "key")
        body["secret"] = read_secret(stdin, f"{name} secret (not shown): ", "secret")
        what = "key and secret"
    else:
        what = _CREDENTIAL_WORDS.get(str(provider["auth"]), "token")
        body["token"] = read_secret(stdin, f"{name} {what} (not shown): ", what)
    account = client.request("POST", "/integrations/keys", json=body)
    if emit(account, as_json, out):
        return 0
    who = f" as {account['account']}" if account["account"] else ""
    if account["checked_at"] is not None:
        out.write(f"Connected to {name}{who}: {account['id']}. The {what} was checked.\n")
    elif account["last_error"]:
        reason = str(account["last_error"]).removeprefix("Not checked yet: ")
        out.write(
            f"Kept the {name} {what}: {account['id']}. It was not checked yet: {reason}\n"
            f"Check it when {name} can be reached: {CLI} check {account['id']}\n"
        )
    else:
        out.write(f"Kept the {name} {what}: {account['id']}. {name} offers no way to check it.\n")
    return 0


def check(
    client: AgentClient,
    account_id: str,
    *,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """``integrations check ID``: 0 when the service accepted the credential, 1 when not."""
    account = client.request("POST", f"/integrations/{account_id}/check")
    passed = account["last_error"] is None and account["status"] == "connected"
    if not emit(account, as_json, out):
        if passed:
            who = f" as {account['account']}" if account["account"] else ""
            out.write(f"Check passed: {account['provider_name']} accepts the account{who}.\n")
        else:
            err.write(
                f"Check failed ({account['status']}): {account['last_error'] or 'no reason given'}"
                "\n"
            )
    return 0 if passed else 1


def refresh(
    client: AgentClient, account_id: str, *, as_json: bool, out: TextIO = sys.stdout
) -> int:
    """``integrations refresh ID``: new tokens now."""
    account = client.request("POST", f"/integrations/{account_id}/refresh")
    if not emit(account, as_json, out):
        until = local_time(account["expires_at"])
        more = f"; the access token is good until {until}" if until else ""
        out.write(f"Refreshed the {account['provider_name']} tokens{more}.\n")
    return 0


def disconnect(
    client: AgentClient,
    account_id: str,
    *,
    confirmed: bool,
    as_json: bool,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> int:
    """``integrations disconnect ID [--yes]``: revoke at the provider, remove here.

    As ``--reset-data`` does, it asks on a terminal; elsewhere ``--yes``
    must confirm it (ConfigError, nothing changed, without it).
    """
    if not confirmed:
        if not stdin.isatty():
            raise ConfigError(
                "disconnect asks before it removes an account, but stdin is not a terminal, "
                "so nothing can be asked.",
                hint="Add --yes to confirm it. Nothing was changed.",
            )
        out.write(_what_disconnect_does(client, account_id) + "\n")
        out.flush()
        try:
            answer = input("Type yes to go on, anything else to stop: ")
        except EOFError:
            answer = ""
        if answer.strip().lower() != "yes":
            out.write("Nothing was changed.\n")
            return 1
    done = client.request("DELETE", f"/integrations/{account_id}")
    if not emit(done, as_json, out):
        out.write(f"{done['message']}\n")
    return 0


def _what_disconnect_does(client: AgentClient, account_id: str) -> str:
    account = client.request("GET", f"/integrations/{account_id}")
    name, who = account["provider_name"], account["account"] or account["id"]
    provider = find_provider(client, account["provider"])
    if provider["auth"] == "oauth2":
        return (
            f"This asks {name} to revoke the access it gave ({who}) and removes the account "
            "and its tokens from this device."
        )
    # The agent cannot revoke a key it was given: only the service's own console can.
    return (
        f"This removes the {name} account {who} and its key from this device. The key stays "
        f"valid at {name} until you delete it there."
    )


# -- signing in -----------------------------------------------------------------------------


def connect(
    client: AgentClient,
    provider_id: str,
    *,
    issuer: str | None,
    parameters: Mapping[str, str],
    scopes: Sequence[str] | None,
    client_id: str | None,
    secret_stdin: bool,
    device: bool,
    open_browser: bool,
    wait: bool,
    timeout_s: float | None,
    as_json: bool,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """``integrations connect PROVIDER``: start a sign-in, then wait for its outcome.

    0 once the account is connected (or, with ``wait`` off, once the
    sign-in started); 1 when it failed or did not finish in time.
    """
    provider = find_provider(client, provider_id)
    name = str(provider["name"])
    if provider["auth"] != "oauth2":
        raise AtomError(
            f"{name} is connected with a key, not a browser sign-in.",
            hint=f"Use: {CLI} add-key {provider_id}",
        )
    given = dict(parameters)
    if issuer is not None:
        given["issuer"] = issuer
    _require_parameters(provider, given)
    body: dict[str, Any] = {"provider": provider_id, "parameters": dict(parameters)}
    if issuer is not None:
        body["issuer"] = issuer
    if scopes:
        body["scopes"] = list(scopes)
    if client_id is not None:
        body["client_id"] = client_id
    if secret_stdin:
        body["client_secret"] = read_secret(
            stdin, f"Client secret of the {name} app (not shown): ", "client secret"
        )
    # With --json, stdout holds the JSON only; what a person reads goes to stderr.
    notes = err if as_json else out
    if device:
        started = client.request("POST", "/integrations/device", json=body)
        _show_device_code(started, notes)
        limit = float(started["expires_in_s"]) + DEVICE_GRACE_S
        timeout_s = limit if timeout_s is None else min(timeout_s, limit)
    else:
        started = client.request("POST", "/integrations", json=body)
        _show_address(str(started["authorize_url"]), name, open_browser=open_browser, out=notes)
    if not wait:
        emit(started, as_json, out)
        notes.write(f"Started; see how it went with: {CLI} list ({started['id']})\n")
        return 0
    return _wait_and_report(
        client,
        str(started["id"]),
        timeout_s=SIGN_IN_TIMEOUT_S if timeout_s is None else timeout_s,
        as_json=as_json,
        out=out,
        err=err,
    )


def reconnect(
    client: AgentClient,
    account_id: str,
    *,
    open_browser: bool,
    wait: bool,
    timeout_s: float | None,
    as_json: bool,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """``integrations reconnect ID``: a new sign-in; the tokens are replaced when it succeeds."""
    before = client.request("GET", f"/integrations/{account_id}")
    started = client.request("POST", f"/integrations/{account_id}/reconnect")
    notes = err if as_json else out
    _show_address(
        str(started["authorize_url"]), before["provider_name"], open_browser=open_browser, out=notes
    )
    if not wait:
        emit(started, as_json, out)
        notes.write(f"Started; see how it went with: {CLI} list\n")
        return 0
    return _wait_and_report(
        client,
        account_id,
        reconnecting=before["status"] != "pending",
        timeout_s=SIGN_IN_TIMEOUT_S if timeout_s is None else timeout_s,
        as_json=as_json,
        out=out,
        err=err,
    )


def _wait_and_report(
    client: AgentClient,
    account_id: str,
    *,
    reconnecting: bool = False,
    timeout_s: float,
    as_json: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    notes = err if as_json else out
    notes.write(f"Waiting for the sign-in to finish (up to {timeout_s:.0f} s; Ctrl-C stops).\n")
    notes.flush()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            account: dict[str, Any] = client.request("GET", f"/integrations/{account_id}")
            # The agent says while a sign-in of the account is under way.
            if not account["signing_in"]:
                break
            if time.monotonic() >= deadline:
                emit(account, as_json, out)
                err.write(
                    f"The sign-in did not finish within {timeout_s:.0f} s. If you still finish "
                    f"it, '{CLI} list' shows the account connected; to drop it: "
                    f"{CLI} disconnect {account_id}\n"
                )
                return 1
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        err.write(
            f"Stopped waiting; a sign-in finished in the browser still counts ({CLI} list).\n"
        )
        return INTERRUPTED
    return _report(account, reconnecting=reconnecting, as_json=as_json, out=out, err=err)


def _report(
    account: Mapping[str, Any], *, reconnecting: bool, as_json: bool, out: TextIO, err: TextIO
) -> int:
    name = account["provider_name"]
    # A failed reconnect leaves a working account as it was, with the reason.
    connected = account["status"] == "connected" and not (reconnecting and account["last_error"])
    if emit(dict(account), as_json, out):
        return 0 if connected else 1
    if connected:
        who = f" as {account['account']}" if account["account"] else ""
        out.write(f"Connected to {name}{who}.\n")
        if account["last_error"]:
            out.write(f"Its first check failed, though: {account['last_error']}\n")
        return 0
    err.write(f"Not connected to {name}: {account['last_error'] or account['status']}\n")
    err.write(f"Try again with: {CLI} reconnect {account['id']}\n")
    return 1


def _show_address(url: str, name: str, *, open_browser: bool, out: TextIO) -> None:
    out.write(f"To connect {name}, open this address in a browser and sign in:\n\n  {url}\n\n")
    out.flush()  # a script reading the address gets it before the wait begins
    if open_browser:
        # webbrowser says False when it found no browser to start; then the
        # person opens the address themselves, as without a display.
        opened = webbrowser.open(url)
        out.write("Opened it in your browser.\n" if opened else "No browser could be started.\n")


def _show_device_code(started: Mapping[str, Any], out: TextIO) -> None:
    out.write(f"Open {started['verification_uri']} and enter {started['user_code']}\n")
    if started.get("verification_uri_complete"):
        out.write(f"(or open {started['verification_uri_complete']}, which holds the code)\n")
    out.write(f"The code is good for {float(started['expires_in_s']):.0f} s.\n")
    out.flush()


# -- input ----------------------------------------------------------------------------------


def read_secret(stdin: TextIO, prompt: str, what: str) -> str:
    """One secret: typed at ``prompt`` (no echo) on a terminal, else one line of stdin."""
    if stdin.isatty():
        value = getpass.getpass(prompt)
    else:
        value = stdin.readline().removesuffix("\n").removesuffix("\r")
    if not value.strip():
        raise AtomError(
            f"No {what} was given: stdin was empty."
            if not stdin.isatty()
            else f"No {what} was typed.",
            hint="Type it at the prompt, or pipe it in (one line each), e.g. from a password "
            "manager.",
        )
    return value


def _require_parameters(provider: Mapping[str, Any], given: Mapping[str, str]) -> None:
    missing = [p for p in provider["parameters"] if not str(given.get(p, "")).strip()]
    if missing:
        options = " ".join(
            "--issuer URL" if p == "issuer" else f"--param {p}=VALUE" for p in missing
        )
        raise ConfigError(
            f"{provider['name']} needs {', '.join(missing)}.", hint=f"Give: {options}"
        )


__all__ = [
    "accounts",
    "add_key",
    "check",
    "connect",
    "disconnect",
    "find_provider",
    "providers",
    "reconnect",
    "refresh",
    "set_client",
]
