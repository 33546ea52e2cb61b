"""The send path's floor: the least a client can do and still send 20 ms blocks.

One sounddevice input stream of 480 frames at 24 kHz (20 ms, latency ``low``, as
voicelive-tui opens it), its callback handing each block to the loop with
``call_soon_threadsafe``, and 50 ``input_audio_buffer.append`` a second through the real
SDK connection (``VoiceLiveConnection.send`` with a dict, as voicelive-tui sends them).
Beside it only a task that reads and drops the server's events (no playback, no logs, no
state). ``benchmarks/send_path.py --floor`` runs it next to the seed quickstart and
voicelive-tui, each alone in turn: what voicelive-tui pays above this is its own.

``--uvloop`` runs it on uvloop (when installed); ``--block-ms`` changes the block size;
``--channels 2`` sends stereo blocks, as voicelive-tui does with the client echo reference;
``--text`` sends each append as a pre-built JSON text (the base64 spliced between its
constant head and tail: the same text ``json.dumps`` makes of the dict) straight to the
SDK's aiohttp socket (``_connection.send_str``), without the SDK's ``json.dumps``; ``--raw``
opens a ``RawInputStream`` (the callback gets PortAudio's buffer, not a numpy array).

Run alone: ``python benchmarks/send_floor.py --endpoint URL --api-key KEY``; it prints
``VOICE ASSISTANT READY`` once the stream runs, and stops on Ctrl+C.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import sys
from typing import Any

RATE = 24_000
APPEND = "input_audio_buffer.append"
HEAD, TAIL = '{"audio": "', f'", "type": "{APPEND}"}}'


async def floor(
    endpoint: str, api_key: str, block_ms: int, channels: int, text: bool, raw: bool
) -> None:
    import sounddevice as sd
    from azure.ai.voicelive.aio import connect
    from azure.core.credentials import AzureKeyCredential

    loop = asyncio.get_running_loop()
    blocks: asyncio.Queue[bytes] = asyncio.Queue()

    def callback(indata: Any, frames: int, time: Any, status: Any) -> None:
        loop.call_soon_threadsafe(blocks.put_nowait, bytes(indata))

    async def drop_events(conn: Any) -> None:
        async for _event in conn:
            pass

    credential = AzureKeyCredential(api_key)
    async with connect(endpoint=endpoint, credential=credential, model="gpt-4o") as conn:
        reader = asyncio.ensure_future(drop_events(conn))
        frames = RATE * block_ms // 1000
        stream = sd.RawInputStream if raw else sd.InputStream
        with stream(
            samplerate=RATE,
            blocksize=frames,
            channels=channels,
            dtype="int16",
            latency="low",
            callback=callback,
        ):
            print("VOICE ASSISTANT READY", flush=True)
            try:
                while True:
                    block = await blocks.get()
                    audio = base64.b64encode(block).decode("ascii")
                    if text:
                        await conn._connection.send_str(HEAD + audio + TAIL)  # noqa: SLF001
                    else:
                        await conn.send({"audio": audio, "type": APPEND})
            finally:
                reader.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="send_floor.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--block-ms", type=int, default=20)
    parser.add_argument(
        "--channels",
        type=int,
        default=1,
        help="2: stereo blocks, the size of voicelive-tui's with the client echo reference",
    )
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    parser.add_argument("--text", action="store_true", help="appends as pre-built JSON text")
    parser.add_argument("--raw", action="store_true", help="a RawInputStream")
    args = parser.parse_args(argv)
    run = floor(args.endpoint, args.api_key, args.block_ms, args.channels, args.text, args.raw)
    with contextlib.suppress(KeyboardInterrupt):
        if args.uvloop:
            import uvloop

            uvloop.run(run)
        else:
            asyncio.run(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
