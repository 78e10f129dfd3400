"""Signed updates of a built app: the manifest, its check, the download and the switch."""
