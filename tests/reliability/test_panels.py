"""A long conversation keeps the dashboard's panels bounded (the soak checks the rest)."""

from __future__ import annotations

from textual.app import App, ComposeResult

from voicelive_tui.conversation.reducer import Turn
from voicelive_tui.ui.widgets.conversation import MAX_TURN_VIEWS, ConversationPanel, TurnView


async def test_the_conversation_panel_keeps_the_newest_turns_only() -> None:
    class Panel(App[None]):
        def compose(self) -> ComposeResult:
            yield ConversationPanel(lambda at, precise=False: f"{at:.0f}", id="conversation")

    app = Panel()
    async with app.run_test() as pilot:
        panel = app.query_one(ConversationPanel)
        turns = [Turn("user", float(i), text=f"turn {i}", final=True) for i in range(50)]
        for more in range(3):  # the conversation grows while the panel syncs
            turns += [
                Turn("agent", float(i), item_id=f"a{i}", text=f"turn {i}", final=True)
                for i in range(50 + more * 100, 150 + more * 100)
            ]
            panel.sync(turns)
            await pilot.pause()
        views = list(panel.query(TurnView))
        assert len(views) == MAX_TURN_VIEWS
        turns[-1].text = "the newest, updated"
        panel.sync(turns)
        await pilot.pause()
        assert "the newest, updated" in str(views[-1].render())
        assert "turn 149" not in " ".join(str(v.render()) for v in views)
