"""The dashboard over a real SSH connection (issue 11): ``ssh -t remote-host voicelive-tui``
from a tmux pane, against a throwaway sshd on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable

from .sshd import SshServer
from .tmux import Pane


def test_the_dashboard_works_over_ssh_and_gives_the_terminal_back(
    sshd: SshServer, pane: Callable[..., Pane]
) -> None:
    term = pane("ssh -t remote-host voicelive-tui --demo --log-dir keys-logs")
    term.wait_for("Hello!", 40)  # the greeting, over the link
    term.keys("m")
    term.wait_for("mic MUTED")  # muted: the scripted user's voice is not sent
    term.keys("t")
    term.wait_for("message to the agent")
    term.type("Please tell me a long story about the sea")
    term.keys("Enter")
    term.wait_for("You said:", 20)  # the agent is answering
    term.keys("Space")
    term.wait_for("(interrupted at", 10)
    term.keys("m")
    term.wait_gone("mic MUTED")
    term.keys("?")
    term.wait_for("Esc to close")
    term.keys("Escape")
    term.wait_gone("Esc to close")
    term.keys("q")
    screen = term.wait_for("EXIT=0", 15)
    assert not term.alternate_screen(), screen
    conversation = next(sshd.remote_home.glob("keys-logs/*_conversation.log")).read_text()
    assert "User Input:\tPlease tell me a long story about the sea" in conversation
