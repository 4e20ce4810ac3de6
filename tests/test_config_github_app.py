"""The example config shows the kind of GitHub app the README asks for (issue 14, item 10)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_example_client_id_is_an_oauth_apps_not_a_github_apps():
    text = (ROOT / "config.example.toml").read_text()
    [client_id] = re.findall(r'^#?\s*oauth_client_id\s*=\s*"([^"]*)"', text, flags=re.MULTILINE)
    # GitHub App client ids start with Iv1. or Iv23; OAuth App ones with Ov23 (older: 20 hex digits).
    assert not client_id.startswith("Iv"), client_id
    assert re.fullmatch(r"Ov23[A-Za-z0-9]{16}|[0-9a-f]{20}", client_id), client_id
    assert "OAuth App" in text and "Enable Device Flow" in text
