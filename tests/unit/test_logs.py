"""Run logs: the seed's file names and formats, 0600 files, flushing, audio elision, redaction."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicelive_tui.logs import (
    DELTAS_PER_S,
    EventsJsonl,
    Redactor,
    RunLogs,
    elide_audio,
    per_event,
)

TRANSCRIPT_DELTA = "response.audio_transcript.delta"

API_KEY = "0123456789abcdef0123456789abcdef"
BEARER = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2FpLmF6dXJlLmNvbSJ9.c2ln"
AGENT_TOKEN = "eyJhZ2VudCI6InRva2VuIn0.cGF5bG9hZA.c2lnbmF0dXJl-_x"
# Secret-shaped values the run never registered: only the patterns can catch these.
UNKNOWN_KEY = "fedcba9876543210fedcba9876543210"
UNKNOWN_BEARER = "eyJ1bmtub3duIjoiYmVhcmVyIn0.dW5rbm93bg.c2lnMg"
UNKNOWN_AGENT_TOKEN = "eyJ1bmtub3duIjoiYWdlbnQifQ.YWdlbnQ.c2lnMw"

LOG = logging.getLogger("voicelive_tui.tests.logs")


@pytest.fixture
def run_logs(tmp_path: Path) -> Iterator[RunLogs]:
    logs = RunLogs(tmp_path / "logs", secrets=[API_KEY, None])
    yield logs
    logs.close()


def files(log_dir: Path) -> list[Path]:
    return sorted(p for p in log_dir.iterdir() if p.is_file())


# -- names, formats, levels, modes ---------------------------------------------------------


def test_three_files_named_with_the_run_timestamp(run_logs: RunLogs) -> None:
    names = [p.name for p in files(run_logs.log_dir)]
    assert len(names) == 3
    stamp = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}"
    suffixes = sorted(re.sub(stamp, "", n) for n in names)
    assert suffixes == ["_conversation.log", "_events.jsonl", "_voicelive.log"]
    assert len({re.match(stamp, n).group(0) for n in names}) == 1  # type: ignore[union-attr]
    assert run_logs.technical_path.name == f"{run_logs.stamp}_voicelive.log"


def test_log_dir_is_created(tmp_path: Path) -> None:
    with RunLogs(tmp_path / "a" / "b") as logs:
        assert logs.conversation_path.parent == tmp_path / "a" / "b"
        assert logs.conversation_path.exists()


def test_every_file_is_private_and_new(tmp_path: Path) -> None:
    # A file left from an earlier run under the same name is neither reused nor touched.
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    old = log_dir / "2024-01-01_00-00-00_conversation.log"
    old.write_text("earlier\n")
    old.chmod(0o644)
    with RunLogs(log_dir, stamp="2024-01-01_00-00-00") as logs:
        LOG.info("hello")
        logs.conversation.write("User Input:\thi")
        logs.events.record("sent", {"type": "session.update"})
        assert logs.stamp == "2024-01-01_00-00-00-2"
        for path in (logs.technical_path, logs.conversation_path, logs.events_path):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert old.read_text() == "earlier\n"
    assert stat.S_IMODE(old.stat().st_mode) == 0o644


def test_technical_log_uses_the_seed_format_at_info(run_logs: RunLogs) -> None:
    LOG.info("Session ready: %s", "sess_1")
    LOG.debug("Received event: %s", "response.audio.delta")
    run_logs.flush()
    lines = run_logs.technical_path.read_text().splitlines()
    pattern = (
        r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}"
        r":voicelive_tui\.tests\.logs:INFO:Session ready: sess_1$"
    )
    assert any(re.match(pattern, line) for line in lines), lines
    assert not any("Received event" in line for line in lines)


def test_verbose_writes_debug_lines(tmp_path: Path) -> None:
    with RunLogs(tmp_path, verbose=True) as logs:
        LOG.debug("Received event: %s", "response.audio.delta")
        logs.flush()
        text = logs.technical_path.read_text()
    assert ":voicelive_tui.tests.logs:DEBUG:Received event: response.audio.delta" in text


def test_technical_log_never_reaches_the_terminal(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The logs are opened while the terminal is captured (file descriptors 1 and 2 and
    # sys.stdout/err), so a handler that binds a stream when it is made is caught too.
    with RunLogs(tmp_path / "logs", verbose=True) as logs:
        LOG.warning("Connection lost")
        LOG.debug("Received event: %s", "session.updated")
        logs.flush()
        assert "Connection lost" in logs.technical_path.read_text()
    captured = capfd.readouterr()
    assert "Connection lost" not in captured.out + captured.err
    assert "Received event" not in captured.out + captured.err


def test_close_detaches_the_handler(tmp_path: Path) -> None:
    logs = RunLogs(tmp_path)
    logs.close()
    LOG.warning("after close")
    assert "after close" not in logs.technical_path.read_text()


# -- conversation log ------------------------------------------------------------------------


def test_conversation_header_and_lines_are_on_disk_while_the_file_is_open(
    run_logs: RunLogs,
) -> None:
    conv = run_logs.conversation
    conv.header("sess_1", "gpt-realtime", "en-US-Ava:DragonHDLatestNeural", "Be brief.")
    assert conv.path.read_text() == (
        "SessionID: sess_1\nModel: gpt-realtime\nVoice: en-US-Ava:DragonHDLatestNeural\n"
        "Instructions: Be brief.\n\n"
    )
    conv.write("User Input:\tWhat's the weather?")
    assert conv.path.read_text().endswith("User Input:\tWhat's the weather?\n")
    conv.write("Agent Audio Response:\tSunny.")
    conv.write("Agent Text Response:\tSunny, 20 degrees.")
    assert conv.path.read_text().splitlines()[-2:] == [
        "Agent Audio Response:\tSunny.",
        "Agent Text Response:\tSunny, 20 degrees.",
    ]


# -- events JSONL ----------------------------------------------------------------------------


def b64(n: int) -> str:
    return base64.b64encode(bytes(range(256)) * (n // 256) + bytes(n % 256)).decode()


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_events_are_one_json_object_per_line_with_time_and_direction(run_logs: RunLogs) -> None:
    run_logs.events.record("sent", {"type": "session.update", "session": {"voice": "alloy"}})
    run_logs.events.record("received", {"type": "session.updated", "session": {"id": "s1"}})
    entries = read_events(run_logs.events_path)  # readable while the run goes on
    assert [e["direction"] for e in entries] == ["sent", "received"]
    assert [e["event"]["type"] for e in entries] == ["session.update", "session.updated"]
    assert entries[1]["event"]["session"] == {"id": "s1"}
    for entry in entries:
        assert re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$", entry["time"])


def test_base64_audio_is_replaced_by_its_byte_length(run_logs: RunLogs) -> None:
    run_logs.events.record("received", {"type": "response.audio.delta", "delta": b64(4800)})
    run_logs.events.record("sent", {"type": "input_audio_buffer.append", "audio": b64(961)})
    delta, append = read_events(run_logs.events_path)
    assert delta["event"]["delta"] == "<4800 bytes>"
    assert append["event"]["audio"] == "<961 bytes>"


def events_log(secrets: list[str]) -> tuple[EventsJsonl, io.StringIO]:
    out = io.StringIO()
    return EventsJsonl(Path("events.jsonl"), out, Redactor(secrets)), out


@settings(max_examples=60, deadline=None)
@given(block=st.binary(max_size=4800), at=st.floats(1e9, 2e9))
def test_a_microphone_append_reads_as_the_line_record_writes(block: bytes, at: float) -> None:
    audio = base64.b64encode(block).decode("ascii")
    full, full_out = events_log([API_KEY])
    lean, lean_out = events_log([API_KEY])
    full.record("sent", {"audio": audio, "type": "input_audio_buffer.append"}, at)
    lean.record_append(len(block), at)
    lean.flush()
    (run,) = lean_out.getvalue().splitlines()
    assert per_event(json.loads(run)) == [json.loads(full_out.getvalue())]


@settings(max_examples=60, deadline=None)
@given(block=st.binary(min_size=1, max_size=4800), other=st.binary(min_size=1, max_size=4800))
def test_a_microphone_append_line_cannot_hold_a_secret(block: bytes, other: bytes) -> None:
    """Why the appends' line skips the redactor: it is made of times and the blocks' size,
    never their content, so audio that spells a key (even base64 that *is* the key) is absent."""
    secret_audio = base64.b64decode(API_KEY)  # its base64 on the wire is the key itself
    assert base64.b64encode(secret_audio).decode() == API_KEY
    lines = []
    for pcm in (block, other[: len(block)].ljust(len(block), b"\0"), secret_audio):
        log, out = events_log([])  # no secret registered: nothing could be redacted
        log.record_append(len(pcm), 1.7e9)
        log.record_append(len(pcm), 1.7e9 + 0.02)
        log.flush()
        lines.append(out.getvalue())
    assert lines[0] == lines[1]  # same size, any content: the same line
    assert API_KEY not in lines[2]
    stamp = r'"[\d:T.-]+"'
    pattern = (
        rf'\{{"time": {stamp}, "direction": "sent", "appends": \{{"type": '
        rf'"input_audio_buffer.append", "count": 2, "bytes": \d+, "block": \d+, '
        rf'"first": {stamp}, "last": {stamp}, "at_ms": \[0, (19|20|21)\]\}}\}}\n'
    )
    assert all(re.fullmatch(pattern, x) for x in lines), lines


def test_transcript_deltas_are_kept_as_text(run_logs: RunLogs) -> None:
    run_logs.events.record(
        "received", {"type": "response.audio_transcript.delta", "delta": "Hello the"}
    )
    run_logs.events.record("received", {"type": "response.text.delta", "delta": "re!"})
    first, second = read_events(run_logs.events_path)
    assert first["event"]["delta"] == "Hello the"
    assert second["event"]["delta"] == "re!"


def test_a_flood_of_deltas_is_counted_in_one_line_per_type_and_second(run_logs: RunLogs) -> None:
    """Up to DELTAS_PER_S a second every delta is written whole; past it, the rest of the
    flood is summed up (count, bytes, first and last time), in order with other lines."""
    events = run_logs.events
    t0 = 1_700_000_000.0
    for n in range(DELTAS_PER_S + 500):  # one second
        events.record("received", {"type": TRANSCRIPT_DELTA, "delta": "ab"}, t0 + n * 1e-4)
    for n in range(3 * DELTAS_PER_S):  # the next second, still flooding
        events.record("received", {"type": TRANSCRIPT_DELTA, "delta": "é"}, t0 + 1 + n * 1e-4)
        events.record("received", {"type": "response.audio.delta", "delta": b64(96)}, t0 + 1.5)
    events.record("received", {"type": "response.done"}, t0 + 1.9)
    events.record("received", {"type": TRANSCRIPT_DELTA, "delta": "x"}, t0 + 5)  # quiet again
    events.flush()
    entries = read_events(run_logs.events_path)
    whole = [e for e in entries if "event" in e]
    runs = [e["coalesced"] for e in entries if "coalesced" in e]
    assert len(whole) == DELTAS_PER_S + 2  # the first second's budget, done, the last
    assert [(r["type"], r["count"], r["bytes"]) for r in runs] == [
        (TRANSCRIPT_DELTA, 500, 1000),
        (TRANSCRIPT_DELTA, 3 * DELTAS_PER_S, 2 * 3 * DELTAS_PER_S),
        ("response.audio.delta", 3 * DELTAS_PER_S, 96 * 3 * DELTAS_PER_S),
    ]
    assert runs[0]["first"] < runs[0]["last"] < runs[1]["first"]
    assert [e.get("event", {}).get("type") for e in entries[-2:]] == [
        "response.done",
        TRANSCRIPT_DELTA,
    ]


def test_runs_of_a_flood_are_written_at_close(tmp_path: Path) -> None:
    logs = RunLogs(tmp_path)
    for _ in range(DELTAS_PER_S + 10):
        logs.events.record("received", {"type": TRANSCRIPT_DELTA, "delta": "a"}, 100.0)
    logs.close()
    (run,) = [e["coalesced"] for e in read_events(logs.events_path) if "coalesced" in e]
    assert run["count"] == 10


def test_audio_inside_item_content_is_elided() -> None:
    event = {
        "type": "conversation.item.create",
        "item": {"type": "message", "content": [{"type": "input_audio", "audio": b64(300)}]},
    }
    assert elide_audio(event)["item"]["content"][0]["audio"] == "<300 bytes>"


# -- redaction ---------------------------------------------------------------------------------


def test_redactor_removes_registered_secrets_anywhere() -> None:
    redact = Redactor([API_KEY])
    redact.add(AGENT_TOKEN)
    text = redact(f"key {API_KEY} and token {AGENT_TOKEN} inline")
    assert API_KEY not in text and AGENT_TOKEN not in text
    assert text.startswith("key ") and text.endswith(" inline")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Connecting to wss://x/voice-live/realtime?api-key={UNKNOWN_KEY}&model=m", UNKNOWN_KEY),
        (
            f"wss://x/voice-live/realtime?agent-id=a&agent-access-token={UNKNOWN_AGENT_TOKEN}"
            "&api-version=2025-10-01",
            UNKNOWN_AGENT_TOKEN,
        ),
        (f"headers: {{'api-key': '{UNKNOWN_KEY}', 'User-Agent': 'x'}}", UNKNOWN_KEY),
        (f'{{"api-key": "{UNKNOWN_KEY}"}}', UNKNOWN_KEY),
        (f"headers: {{'Authorization': 'Bearer {UNKNOWN_BEARER}'}}", UNKNOWN_BEARER),
        (f"Authorization: bearer {UNKNOWN_BEARER}\r\n", UNKNOWN_BEARER),
        (f"{{'agent_access_token': '{UNKNOWN_AGENT_TOKEN}'}}", UNKNOWN_AGENT_TOKEN),
        (f'{{"agent-access-token": "{UNKNOWN_AGENT_TOKEN}"}}', UNKNOWN_AGENT_TOKEN),
    ],
)
def test_redactor_removes_secret_shaped_values(text: str, secret: str) -> None:
    redacted = Redactor()(text)
    assert secret not in redacted
    assert "***" in redacted


def test_redactor_keeps_ordinary_text() -> None:
    text = "User Input:\tWhat tokens does the model use? max_response_output_tokens=4096"
    assert Redactor([API_KEY])(text) == text


def test_no_file_contains_a_secret(tmp_path: Path) -> None:
    with RunLogs(tmp_path, verbose=True, secrets=[API_KEY]) as logs:
        logs.add_secret(BEARER)
        logs.add_secret(AGENT_TOKEN)
        url = f"wss://x/voice-live/realtime?agent-access-token={AGENT_TOKEN}&api-key={API_KEY}"
        headers = {"api-key": API_KEY, "Authorization": f"Bearer {BEARER}"}
        LOG.debug("Connecting to %s", url)
        LOG.debug("headers %r", headers)
        LOG.info("unknown bearer: Authorization: Bearer %s", UNKNOWN_BEARER)
        logs.conversation.write(f"Connection lost:\t{url}; reconnecting in 0.5 s")
        logs.conversation.write(f"User Input:\tmy key is {API_KEY}")
        logs.events.record("sent", {"type": "session.update", "headers": headers, "url": url})
        logs.events.record("received", {"type": "error", "error": {"message": f"bad {BEARER}"}})
    contents = {p.name: p.read_text() for p in files(tmp_path)}
    assert len(contents) == 3
    for name, text in contents.items():
        assert text, name
        for secret in (API_KEY, BEARER, AGENT_TOKEN, UNKNOWN_BEARER):
            assert secret not in text, (name, secret[:8])
    assert ":DEBUG:Connecting to wss://x/voice-live/realtime?agent-access-token=***" in "".join(
        contents.values()
    )


def test_secret_added_mid_run_is_redacted_from_then_on(run_logs: RunLogs) -> None:
    fresh = "fresh-token-after-reconnect-1234567890"
    run_logs.add_secret(fresh)
    LOG.info("token %s", fresh)
    run_logs.conversation.write(f"note {fresh}")
    run_logs.flush()
    assert fresh not in run_logs.technical_path.read_text()
    assert fresh not in run_logs.conversation_path.read_text()
