"""A throwaway OpenSSH server on 127.0.0.1, for the tests that use the app over real SSH.

``start_sshd(base)`` makes a host key and a user key under ``base``, starts ``sshd`` in
the foreground on a free loopback port (we own its pid) and writes an ``ssh_config`` with
a host alias, so ``ssh remote-host ...`` reaches it exactly as a user's ``ssh`` would reach
a real host. The remote side is a fresh home under ``base`` (``remote_home``): ``SetEnv``
puts it in ``HOME`` and the test's ``voicelive-tui`` first on ``PATH``, and a
``ForceCommand`` starts every command there, so the app's files (logs, the saved cookie)
stay in the test's directory.

No pytest here: the fixtures turn :class:`SshUnavailable` into a skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import stop_process

__all__ = ["HOST_ALIAS", "SshServer", "SshUnavailable", "start_sshd"]

HOST_ALIAS = "remote-host"
SSHD = "/usr/sbin/sshd"
READY_TIMEOUT_S = 10.0


class SshUnavailable(Exception):
    """sshd cannot run here; the message says why."""


@dataclass
class SshServer:
    """A running sshd and the client configuration that reaches it."""

    port: int
    base: Path
    config: Path
    """ssh_config with Host remote-host (port, key, no host-key prompts)."""
    bin_dir: Path
    """A directory of ``ssh``/``scp`` wrappers that use ``config``: put it first on PATH."""
    remote_home: Path
    """HOME and working directory of every remote command."""
    process: subprocess.Popen[bytes]

    def ssh(self, *args: str) -> list[str]:
        """An ssh command line to the server."""
        return ["ssh", "-F", str(self.config), *args]

    def stop(self) -> None:
        """Stop sshd (by our own pid) and wait for it."""
        stop_process(self.process)


def missing_tool() -> str | None:
    """Why sshd cannot start here, or None."""
    if not os.access(SSHD, os.X_OK):
        return f"{SSHD} not installed (apt-get install openssh-server)"
    for tool in ("ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install openssh-client)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
        check=True,
        capture_output=True,
        timeout=20,
    )


def start_sshd(base: Path) -> SshServer:
    """Start sshd for the current user under ``base``; SshUnavailable if it cannot."""
    reason = missing_tool()
    if reason:
        raise SshUnavailable(reason)
    if os.geteuid() == 0:
        # sshd as root wants its privilege-separation directory.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    base.mkdir(parents=True, exist_ok=True)
    _keygen(base / "host_key")
    _keygen(base / "user_key")
    authorized = base / "authorized_keys"
    authorized.write_text((base / "user_key.pub").read_text())
    authorized.chmod(0o600)
    remote_home = base / "remote-home"
    remote_home.mkdir(exist_ok=True)
    venv_bin = Path(sys.executable).parent
    path = f"{venv_bin}:/usr/local/bin:/usr/bin:/bin"
    port = _free_port()
    sshd_config = base / "sshd_config"
    sshd_config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {base / 'host_key'}\n"
        f"AuthorizedKeysFile {authorized}\n"
        f"PidFile {base / 'sshd.pid'}\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "AllowStreamLocalForwarding yes\n"
        "StreamLocalBindUnlink yes\n"
        "PrintMotd no\n"
        "PrintLastLog no\n"
        f"SetEnv PATH={path} HOME={remote_home} LANG=C.UTF-8\n"
        'ForceCommand cd "$HOME" && exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n'
        "Subsystem sftp internal-sftp\n"
    )
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(sshd_config)],
        stdout=subprocess.DEVNULL,
        stderr=open(base / "sshd.log", "wb"),  # noqa: SIM115 -- sshd owns it until stopped
    )
    config = base / "ssh_config"
    config.write_text(
        f"Host {HOST_ALIAS}\n"
        "  HostName 127.0.0.1\n"
        f"  Port {port}\n"
        f"  User {_user()}\n"
        f"  IdentityFile {base / 'user_key'}\n"
        "  IdentitiesOnly yes\n"
        "  StrictHostKeyChecking no\n"
        f"  UserKnownHostsFile {base / 'known_hosts'}\n"
        "  LogLevel ERROR\n"
        "  BatchMode yes\n"
    )
    bin_dir = base / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("ssh", "scp"):
        real = shutil.which(tool)
        if real is None:
            continue
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec {real} -F {config} "$@"\n')
        wrapper.chmod(0o755)
    server = SshServer(port, base, config, bin_dir, remote_home, process)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if process.poll() is not None:
            log = (base / "sshd.log").read_text(errors="replace").strip()
            raise SshUnavailable(f"sshd exited: {log.splitlines()[-1] if log else 'no output'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise SshUnavailable("sshd did not listen within 10 s") from None
            time.sleep(0.05)
    probe = subprocess.run(
        [*server.ssh(HOST_ALIAS, "true")], capture_output=True, text=True, timeout=20
    )
    if probe.returncode != 0:
        server.stop()
        raise SshUnavailable(f"ssh to the loopback sshd failed: {probe.stderr.strip()}")
    return server


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
