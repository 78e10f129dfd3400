"""Which keyring the app picks by itself, in a fresh process as at a real start.

The test environment has ``keyrings.alt`` installed (the plaintext-backend
tests use it), and keyring detects it whenever no better backend runs. The
app's choice must not depend on that: a detected plaintext backend counts as
no keyring, exactly as if the package were absent, and only a backend the
user names (PYTHON_KEYRING_BACKEND or keyring's config file) is taken, to be
reported as plaintext. keyring remembers its choice per process, hence a
fresh interpreter for each case.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.secret_service import SecretServiceSession

PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"

_PROBE = """
import json
from atom_desktop.secrets.keyring_vault import KeyringVault
status = KeyringVault("atom-desktop-test-choice").probe()
print(json.dumps({"state": status.state.value, "backend": status.backend}))
"""


def probe_in_fresh_process(home: Path, **extra: str) -> dict[str, str]:
    """The vault's probe in a new interpreter with its own home and no D-Bus unless given."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS")
    }
    env |= {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
    }
    env |= extra
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer: dict[str, str] = json.loads(result.stdout)
    return answer


def test_the_plaintext_backend_is_installed_here() -> None:
    # Without it the other tests here would pass for the wrong reason.
    assert importlib.util.find_spec("keyrings.alt") is not None


def test_a_detected_plaintext_backend_counts_as_no_keyring(tmp_path: Path) -> None:
    probed = probe_in_fresh_process(tmp_path)
    assert probed == {"state": "missing", "backend": "keyring.backends.fail.Keyring"}
    assert not (tmp_path / ".local" / "share" / "python_keyring").exists()


def test_a_plaintext_backend_named_in_the_environment_is_reported_as_plaintext(
    tmp_path: Path,
) -> None:
    probed = probe_in_fresh_process(tmp_path, PYTHON_KEYRING_BACKEND=PLAINTEXT)
    assert probed == {"state": "plaintext", "backend": PLAINTEXT}


def test_a_plaintext_backend_named_in_keyrings_config_is_reported_as_plaintext(
    tmp_path: Path,
) -> None:
    config = tmp_path / ".config" / "python_keyring" / "keyringrc.cfg"
    config.parent.mkdir(parents=True)
    config.write_text(f"[backend]\ndefault-keyring = {PLAINTEXT}\n", encoding="utf-8")
    probed = probe_in_fresh_process(tmp_path)
    assert probed == {"state": "plaintext", "backend": PLAINTEXT}


def test_a_running_secret_service_is_chosen_over_the_plaintext_backend(
    secret_service: SecretServiceSession, tmp_path: Path
) -> None:
    probed = probe_in_fresh_process(
        tmp_path / "client",
        DBUS_SESSION_BUS_ADDRESS=secret_service.env["DBUS_SESSION_BUS_ADDRESS"],
    )
    assert probed == {"state": "available", "backend": "keyring.backends.SecretService.Keyring"}
