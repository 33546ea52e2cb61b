"""The Textual dashboard."""

from voicelive_tui.ui.textual_fixes import release_removed_widgets, render_only_what_changed

release_removed_widgets()
render_only_what_changed()
