"""Screen-reader mode's lines (issue 27): labelled, one line each, nothing unprintable."""

from __future__ import annotations

from voicelive_tui.conversation.turns import Turn
from voicelive_tui.reader import KEYS, help_lines, labelled, turn_line


def test_a_line_is_labelled_flat_and_printable() -> None:
    assert labelled("Agent", "two\nlines\t and\x1b[?25l a hidden cursor") == (
        "Agent: two lines and\\x1b[?25l a hidden cursor"  # shown, not obeyed
    )


def test_finished_turns_read_as_labelled_lines() -> None:
    assert turn_line(Turn("user", 0.0, text="Hello", final=True)) == "You: Hello"
    cut = Turn("agent", 1.0, text="Once upon", final=True, interrupted=True)
    assert turn_line(cut) == "Agent: Once upon [interrupted by you]"
    quit_ = Turn("agent", 1.0, text="Bye", final=True, interrupted=True, interrupted_by="quit")
    assert turn_line(quit_) == "Agent: Bye [interrupted by quit]"
    assert turn_line(Turn("system", 2.0, text="Connection lost", final=True)).startswith("Notice:")


def test_help_lists_every_key_as_plain_text() -> None:
    lines = help_lines()
    assert all(line.startswith("Help: ") for line in lines)
    assert len(lines) == len(KEYS) + 1
    assert "Help: Space or i: stop the agent: cancel and truncate" in lines


def test_every_key_has_an_action() -> None:
    from voicelive_tui.reader import ACTIONS, ScreenReaderFrontEnd

    for key in ("?", "q", "m", " ", "i", "t", "\n", "y", "n", "/", "p", "c", "r", "l", "u", "e"):
        assert callable(getattr(ScreenReaderFrontEnd, f"action_{ACTIONS[key]}")), key
