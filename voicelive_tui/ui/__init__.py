"""The Textual dashboard."""

from voicelive_tui.ui.textual_fixes import release_removed_widgets

release_removed_widgets()
