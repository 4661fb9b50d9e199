"""The Textual TUI: watch runs live, answer questions, approve gated actions.

`tui.app.HarnessApp` imports Textual; `tui.data.ProjectData` (the read-only data source)
imports no Textual and can be used alone.
"""

__all__ = ["app", "data", "model"]
