"""A long conversation keeps the dashboard's panels bounded (the soak checks the rest)."""

from __future__ import annotations

import gc

from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.widget import Widget

from voicelive_tui.conversation.reducer import Turn
from voicelive_tui.ui.widgets.conversation import (
    MAX_TURN_VIEWS,
    ConversationPanel,
    TurnView,
    earlier_turns_note,
)


class Panel(App[None]):
    def compose(self) -> ComposeResult:
        yield ConversationPanel(lambda at, precise=False: f"{at:.0f}", id="conversation")


async def test_the_conversation_panel_keeps_the_newest_turns_only() -> None:
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
        earlier = len(turns) - MAX_TURN_VIEWS
        assert str(panel.children[0].render()) == earlier_turns_note(earlier)
        assert f"↑ {earlier} earlier turns: in the conversation log" in earlier_turns_note(earlier)
        turns[-1].text = "the newest, updated"
        panel.sync(turns)
        await pilot.pause()
        assert "the newest, updated" in str(views[-1].render())
        assert "turn 149" not in " ".join(str(v.render()) for v in views)


async def test_turns_that_leave_the_conversation_panel_free_what_they_rendered() -> None:
    """Textual's ``get_inner_outer`` cache kept up to 1,024 removed widgets' rendered lines
    (textual#6665), and a widget leaves the panel with every turn once it is full. A
    ``StylesCache`` (a widget's rendered lines) lives only with its widget."""

    app = Panel()
    async with app.run_test() as pilot:
        panel = app.query_one(ConversationPanel)
        turns: list[Turn] = []
        for batch in range(4):  # each batch pushes MAX_TURN_VIEWS turns off the panel
            turns += [
                Turn("user", float(i), text=f"message number {i}, please answer", final=True)
                for i in range(batch * MAX_TURN_VIEWS, (batch + 1) * MAX_TURN_VIEWS)
            ]
            panel.sync(turns)
            await pilot.pause()
        gc.collect()
        alive = gc.get_objects()
        widgets = [o for o in alive if isinstance(o, Widget)]
        caches = [o for o in alive if isinstance(o, StylesCache)]
        assert sum(isinstance(w, TurnView) for w in widgets) == MAX_TURN_VIEWS
        assert len(caches) <= len(widgets), f"{len(caches)} caches for {len(widgets)} widgets"
