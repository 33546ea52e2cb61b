"""The azure-ai-voicelive SDK's own samples, fetched and run as a user runs them.

Nothing of the samples is in the repository. :func:`fetch_samples` downloads the
package's source distribution once (``pip download --no-binary :all: --no-deps
azure-ai-voicelive==1.3.1``) into a cache folder and unpacks its ``samples/``;
:func:`pyaudio_path` builds PyAudio (which the samples need) once into the cache with
``pip install --target``, against PortAudio's headers (``portaudio19-dev``), so the test
environment itself is left as it is. Both raise :class:`SamplesUnavailable` with the
reason when they cannot (no package index, no headers or compiler); the fixtures turn that
into a skip. Concurrent workers take a file lock on the cache.

:class:`SampleRun` runs one sample, unmodified, copied into a scratch folder (the samples
call ``load_dotenv()``, which would find a ``.env`` next to them or above), with the
private PulseAudio server's environment, the emulator as its endpoint and an API key
(never ``DefaultAzureCredential``), and collects its output lines.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import child_env, stop_process

__all__ = ["SDK_VERSION", "SampleRun", "SamplesUnavailable", "fetch_samples", "pyaudio_path"]

SDK_VERSION = "1.3.1"
PACKAGE = "azure-ai-voicelive"
PIP_TIMEOUT_S = 300


class SamplesUnavailable(Exception):
    """The samples (or PyAudio) cannot be had here; the message says why."""


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"],
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            env=child_env(),
        )
    except subprocess.TimeoutExpired:
        raise SamplesUnavailable(f"pip {args[0]} took more than {PIP_TIMEOUT_S} s") from None


def _last_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or ["no output"])[-1].strip()[:300]


def fetch_samples(cache: Path) -> Path:
    """The ``samples`` folder of the SDK's sdist, downloaded and unpacked once."""
    samples = cache / f"{PACKAGE}-{SDK_VERSION}" / "samples"
    with _locked(cache):
        if (samples / "async_function_calling_sample.py").exists():
            return samples
        download = cache / "download"
        shutil.rmtree(download, ignore_errors=True)
        result = _pip(
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"{PACKAGE}=={SDK_VERSION}",
            "-d",
            str(download),
        )
        archives = list(download.glob("*.tar.gz"))
        if result.returncode != 0 or not archives:
            raise SamplesUnavailable(
                f"cannot download the {PACKAGE} {SDK_VERSION} sdist: {_last_error(result)}"
            )
        unpacked = cache / "unpacked"
        shutil.rmtree(unpacked, ignore_errors=True)
        with tarfile.open(archives[0]) as tar:
            members = [m for m in tar.getmembers() if "/samples/" in f"/{m.name}"]
            tar.extractall(unpacked, members=members, filter="data")
        found = next(unpacked.glob("*/samples"), None)
        if found is None:
            raise SamplesUnavailable(f"the {PACKAGE} {SDK_VERSION} sdist has no samples folder")
        samples.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(samples, ignore_errors=True)
        found.rename(samples)
        shutil.rmtree(unpacked, ignore_errors=True)
        return samples


def _has_pyaudio(extra_path: Path | None = None) -> bool:
    env = child_env()
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env["PYTHONPATH"]])
    probe = subprocess.run(
        [sys.executable, "-c", "import pyaudio"], env=env, capture_output=True, timeout=60
    )
    return probe.returncode == 0


def pyaudio_path(cache: Path) -> Path | None:
    """Where PyAudio is importable from: None when the test environment has it already,
    else a cache folder it was built into (once)."""
    if _has_pyaudio():
        return None
    tag = f"pyaudio-py{sys.version_info[0]}{sys.version_info[1]}"
    target = cache / tag
    with _locked(cache):
        if _has_pyaudio(target):
            return target
        shutil.rmtree(target, ignore_errors=True)
        result = _pip("install", "--no-deps", "--target", str(target), "pyaudio")
        if result.returncode != 0 or not _has_pyaudio(target):
            shutil.rmtree(target, ignore_errors=True)
            raise SamplesUnavailable(
                "cannot build PyAudio (apt-get install portaudio19-dev, and a C compiler): "
                + _last_error(result)
            )
        return target


class SampleRun:
    """One sample running against ``endpoint`` on the audio server of ``pulse_env``."""

    def __init__(
        self,
        sample: Path,
        where: Path,
        *,
        endpoint: str,
        key: str,
        pulse_env: Mapping[str, str],
        pyaudio: Path | None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        where.mkdir(parents=True, exist_ok=True)
        script = where / sample.name
        shutil.copy2(sample, script)
        if (sample.parent / "utils.py").exists():
            shutil.copy2(sample.parent / "utils.py", where / "utils.py")
        extra = {
            "AZURE_VOICELIVE_ENDPOINT": endpoint,
            "AZURE_VOICELIVE_USE_API_KEY": "true",
            "AZURE_VOICELIVE_API_KEY": key,
            "PYTHONUNBUFFERED": "1",
            **{k: v for k, v in pulse_env.items() if k.startswith(("PULSE_", "XDG_"))},
            **(env or {}),
        }
        full_env = child_env(extra)
        if "PULSE_SERVER" not in pulse_env:
            full_env.pop("PULSE_SERVER", None)
        if pyaudio is not None:
            full_env["PYTHONPATH"] = os.pathsep.join([str(pyaudio), full_env["PYTHONPATH"]])
        self.lines: list[str] = []
        self.interrupted_at: int | None = None
        """How many lines there were when :meth:`interrupt` was called."""
        self.process = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=where,
            env=full_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def has(self, text: str) -> bool:
        """Whether any output line so far contains ``text``."""
        return any(text in line for line in list(self.lines))

    def matching(self, text: str) -> list[str]:
        return [line for line in list(self.lines) if text in line]

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def interrupt(self, timeout: float = 20.0) -> int:
        """Ctrl+C, as a user ends a sample; its exit status (killed if it hangs). The status
        is not the samples' promise: their audio threads race the shutdown (PyAudio can
        crash writing to a stream another thread closed)."""
        self.interrupted_at = len(self.lines)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop_process(self.process)
        self._reader.join(timeout=5)
        return self.process.returncode
