"""The real azure-identity credentials, with a stand-in ``az``, in a network namespace.

Every credential runs in a subprocess under ``unshare -n``: a network namespace whose only
interface is loopback, so nothing (not even DefaultAzureCredential's managed-identity probe)
can leave the machine. The stand-in ``az`` records its arguments and prints a token that
names the resource it was asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

FAKE_AZ = r"""#!/bin/sh
# Stand-in for the Azure CLI: log the arguments, print a token for the asked resource.
printf '%s\n' "$*" >> "$AZ_ARGS_LOG"
resource=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "--resource" ] || [ "$prev" = "--scope" ]; then resource="$arg"; fi
  prev="$arg"
done
case "$resource" in
  https://ai.azure.com*) token="token-for-ai" ;;
  https://ml.azure.com*) token="token-for-ml" ;;
  https://cognitiveservices.azure.com*) token="token-for-cognitive" ;;
  *) echo "ERROR: unexpected resource '$resource'" >&2; exit 1 ;;
esac
cat <<EOF
{"accessToken": "$token", "expiresOn": "2099-01-01 00:00:00.000000", "expires_on": 4070908800,
 "subscription": "00000000-0000-0000-0000-000000000000", "tenant": "t", "tokenType": "Bearer"}
EOF
"""

SNIPPET = textwrap.dedent(
    """
    import asyncio, json, sys
    from voicelive_tui.session.auth import fetch_agent_access_token, make_token_credential
    from voicelive_tui.config import Settings

    CASES = {
        "ai": dict(agent_id="asst_1", project_name="proj"),
        "ml": dict(agent_id="asst_1", agent_connection_string="eastus;sub;rg;hub"),
    }

    async def main():
        kind = sys.argv[1]
        out = {}
        for name, extra in CASES.items():
            settings = Settings(credential=kind, **extra)
            credential = make_token_credential(settings)
            async with credential:
                out["class"] = type(credential).__name__
                # Twice, as before a connect and a reconnect: each time a fresh token.
                out[name] = [await fetch_agent_access_token(credential, settings)
                             for _ in range(2)]
        print(json.dumps(out))

    asyncio.run(main())
    """
)


def _unshare_works() -> str | None:
    """None when ``unshare -n`` with loopback works here, else why not."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare or ip is not installed"
    probe = subprocess.run(
        ["unshare", "-n", "sh", "-c", "ip link set lo up"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if probe.returncode != 0:
        return f"unshare -n is not permitted here: {probe.stderr.strip()[:200]}"
    return None


_WHY_NOT = _unshare_works()
pytestmark = pytest.mark.skipif(_WHY_NOT is not None, reason=str(_WHY_NOT))


def run_isolated(tmp_path: Path, credential: str) -> tuple[dict, list[str]]:
    """Run the snippet with ``--credential credential`` in a loopback-only namespace."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(FAKE_AZ)
    az.chmod(0o755)
    args_log = tmp_path / "az-args.log"
    env = {
        name: value
        for name, value in os.environ.items()
        # No real identity may leak in: service principals, managed identity, CLI config.
        if not name.startswith(("AZURE_", "MSI_", "IDENTITY_", "IMDS_"))
    }
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        AZ_ARGS_LOG=str(args_log),
        HOME=str(tmp_path),  # no shared token cache or VS Code sign-in from the real home
        PYTHONPATH=f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}",
    )
    script = tmp_path / "snippet.py"
    script.write_text(SNIPPET)
    # Refuse to run unless loopback is the only interface of the namespace.
    shell = (
        'ip link set lo up && [ "$(ip -o link show | wc -l)" -eq 1 ] && '
        f'exec "{sys.executable}" "{script}" {credential}'
    )
    proc = subprocess.run(
        ["unshare", "-n", "sh", "-c", shell],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    calls = args_log.read_text().splitlines() if args_log.exists() else []
    return json.loads(proc.stdout.strip().splitlines()[-1]), calls


def test_cli_credential_gets_agent_tokens_for_the_right_resource(tmp_path: Path) -> None:
    result, calls = run_isolated(tmp_path, "cli")
    assert result["class"] == "AzureCliCredential"
    assert result["ai"] == ["token-for-ai", "token-for-ai"]
    assert result["ml"] == ["token-for-ml", "token-for-ml"]
    assert len(calls) == 4  # asked the CLI every time: no token is reused from a cache
    for call, resource in zip(calls, ["ai", "ai", "ml", "ml"], strict=True):
        assert call.startswith("account get-access-token"), call
        assert f"https://{resource}.azure.com" in call, call
        assert "--resource" in call or "--scope" in call, call


def test_default_credential_reaches_the_cli_in_the_isolated_namespace(tmp_path: Path) -> None:
    # DefaultAzureCredential probes managed identity over the network first; in the
    # namespace that probe cannot leave the machine and fails, and the chain reaches az.
    result, calls = run_isolated(tmp_path, "default")
    assert result["class"] == "DefaultAzureCredential"
    assert result["ai"] == ["token-for-ai", "token-for-ai"]
    assert result["ml"] == ["token-for-ml", "token-for-ml"]
    assert any("https://ml.azure.com" in call for call in calls)
