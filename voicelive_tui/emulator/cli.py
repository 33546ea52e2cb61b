"""``voicelive-emulator``: run the local Voice Live emulator from a shell."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import NoReturn

from voicelive_tui.platform_support import quit_signals

from .faults import FAULT_HELP, parse_faults
from .schedule import AUDIO_LEAD_MS, BURST_RATE, DEFAULT_PACING, PACINGS
from .server import ROUTE, Emulator

__all__ = ["build_parser", "main"]

EPILOG = f"""\
faults (repeat --fault to combine):
{chr(10).join("  " + line for line in FAULT_HELP.values())}

authentication:
  Without --api-key and --token every connection is accepted. With --api-key, an
  api-key header (or query parameter) must match it; with --token, a Bearer token must
  match it. A credential kind you did not configure is accepted with any non-empty value
  (the emulator cannot check Entra ID tokens), and a request with no credential at all
  gets HTTP 401 once either is set.

The route is {ROUTE}; point a client at http://HOST:PORT as its endpoint.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with errors as one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid speed {text!r}: expected a number") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(f"invalid speed {text!r}: expected 0 < X <= 1000")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 0..65535")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``voicelive-emulator`` argument parser."""
    parser = _Parser(
        prog="voicelive-emulator",
        description="A local Azure AI Voice Live emulator: a WebSocket server the "
        "azure-ai-voicelive SDK can talk to offline. It greets, echoes your speech back "
        "after a short sentence, quotes your text messages, and can inject faults.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--port", type=_port, default=8765, help="port to bind; 0 picks a free one (default: 8765)"
    )
    parser.add_argument(
        "--api-key", metavar="KEY", help="require this key in the api-key header (see below)"
    )
    parser.add_argument(
        "--token", metavar="TOKEN", help="require this Bearer token in Authorization (see below)"
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        metavar="X",
        help="stream responses X times faster than real time (default: 1)",
    )
    parser.add_argument(
        "--pacing",
        choices=PACINGS,
        default=DEFAULT_PACING,
        help="how reply audio is sent: 'service' (as the service does: in bursts, about "
        f"{BURST_RATE:g}x faster than real time) or 'realtime' (at the pace it plays, "
        f"{AUDIO_LEAD_MS} ms ahead); default: {DEFAULT_PACING}",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME[=VALUE]",
        help="inject a fault; names listed below",
    )
    return parser


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    with quit_signals(lambda _name: stop.set(), ("SIGINT", "SIGTERM")):
        await emulator.start()
        print(f"Voice Live emulator listening on {emulator.endpoint}", flush=True)
        if emulator.faults.active:
            print(f"faults: {', '.join(emulator.faults.active)}", flush=True)
        try:
            await stop.wait()
        finally:
            await emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``voicelive-emulator``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        faults = parse_faults(args.fault)
    except ValueError as exc:
        parser.error(str(exc))
    emulator = Emulator(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        token=args.token,
        speed=args.speed,
        pacing=args.pacing,
        faults=faults,
        log=lambda line: print(line, flush=True),
    )
    try:
        asyncio.run(_serve(emulator))
    except OSError as exc:
        sys.stderr.write(f"voicelive-emulator: cannot listen on {args.host}:{args.port}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
