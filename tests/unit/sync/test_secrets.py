"""What of an automation leaves the device: masked secrets, and our own kept on the way back."""

from __future__ import annotations

from typing import Any

from atom_desktop.sync.secrets import public_automation, with_local_secrets

_SPEC: dict[str, Any] = {
    "name": "deploy",
    "enabled": True,
    "description": "see https://ops:pa55word99@wiki.example/x",
    "steps": [
        {"type": "shell", "shell": "deploy.sh --token=abcdef123456", "env": {"MODE": "prod"}},
        {
            "type": "http",
            "url": "https://example.com/hook?api_key=zzzzzzzzzz",
            "headers": {"X-Api-Key": "k-123456789", "Accept": "application/json"},
            "json": {"password": "letmein12345"},
        },
    ],
    "on_failure": [{"type": "notify", "title": "failed"}],
}


def test_secrets_are_masked_and_the_rest_is_kept() -> None:
    public = public_automation({"name": "deploy", "enabled": True, "spec": _SPEC})
    text = repr(public)
    for secret in ("pa55word99", "abcdef123456", "prod", "zzzzzzzzzz", "k-123456789", "letmein"):
        assert secret not in text
    shell, http = public["spec"]["steps"]
    assert shell["env"] == {"MODE": "***"}
    assert http["headers"] == {"X-Api-Key": "***", "Accept": "application/json"}
    assert public["spec"]["on_failure"] == _SPEC["on_failure"]
    assert public["spec"]["name"] == "deploy" and public["enabled"] is True


def test_a_pulled_spec_gets_our_own_secrets_back_where_it_masks_them() -> None:
    local = {"name": "deploy", "enabled": True, "spec": _SPEC}
    remote = public_automation(local)
    remote["name"] = "deploy (renamed elsewhere)"
    remote["spec"]["steps"][1]["headers"]["Accept"] = "text/plain"
    merged = with_local_secrets(remote, local)
    assert merged["name"] == "deploy (renamed elsewhere)"
    assert merged["spec"]["steps"][0] == _SPEC["steps"][0]
    assert merged["spec"]["steps"][1]["headers"] == {
        "X-Api-Key": "k-123456789",
        "Accept": "text/plain",
    }
    # A value changed elsewhere (no longer our masked value) is taken as sent.
    remote["spec"]["steps"][0]["shell"] = "deploy.sh --dry-run"
    assert with_local_secrets(remote, local)["spec"]["steps"][0]["shell"] == "deploy.sh --dry-run"
    # With nothing of ours, the masks stay.
    assert with_local_secrets(remote, None)["spec"]["steps"][0]["env"] == {"MODE": "***"}
