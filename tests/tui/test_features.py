"""The features panel: counts, progress bar, filter; and it follows the file live."""

from __future__ import annotations

import time
from pathlib import Path

from textual.widgets import DataTable, Input, ProgressBar

from artifacts.feature_list import dump_feature_list
from artifacts.models import ADOPTED, Evidence, Proof, Review
from tests.tui.conftest import make_features
from tui.app import HarnessApp
from tui.features import FeaturesPanel, matches
from tui.sessions import SessionsPanel, bar_chart

# How long a test waits for what a user would see: generous, for a loaded machine. Waiting
# ends as soon as it is there; how fast it gets there is measured by bench/tui.py.
LIVENESS_S = 60.0


async def wait_until(pilot, condition, timeout: float = LIVENESS_S) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await pilot.pause(0.02)


async def test_counts_bar_and_filter(project: Path) -> None:
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        panel = app.query_one(FeaturesPanel)
        assert "2/6" in str(app.query_one("#features-summary").content)
        bar = app.query_one("#features-bar", ProgressBar)
        assert (bar.progress, bar.total) == (2, 6)
        assert panel.visible_ids() == ["F001", "F002", "F003", "F004", "F005", "F006"]
        await pilot.press("slash", *"beta")
        assert app.query_one("#features-filter", Input).value == "beta"
        assert panel.visible_ids() == ["F001", "F004"]
        app.query_one("#features-filter", Input).value = "is:passing"
        await pilot.pause()
        assert panel.visible_ids() == ["F001", "F002"]
        assert "2/6" in str(app.query_one("#features-summary").content)  # counts ignore it


async def test_feature_file_written_by_another_writer_is_shown_by_the_watcher(
    project: Path,
) -> None:
    app = HarnessApp(project, poll_s=3600.0)  # no poll during the test: the watcher must do it
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        (project / "feature_list.json").write_text(dump_feature_list(make_features(6, 5)))
        await wait_until(pilot, lambda: "5/6" in str(app.query_one("#features-summary").content))
        chart = str(app.query_one("#sessions-chart").content)
        assert "features passing by session" in chart
        assert app.query_one(SessionsPanel).total == 6


async def test_invalid_feature_list_is_reported_not_raised(project: Path) -> None:
    (project / "feature_list.json").write_text('{"version": 1, "features": [}')
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        text = str(app.query_one("#features-summary").content)
        assert "feature_list.json" in text


def test_matches_words_and_status() -> None:
    features = make_features(3, 1).features
    assert [f.id for f in features if matches(f, "is:failing")] == ["F002", "F003"]
    assert [f.id for f in features if matches(f, "F003 functional")] == []
    assert [f.id for f in features if matches(f, "number 2")] == ["F002"]


def test_bar_chart_uses_an_absolute_scale() -> None:
    lines = bar_chart([0, 4, 8], total=8, height=2)
    assert lines[0] == "    ██" and lines[1] == "  ████"
    assert bar_chart([], total=8) == ["(no session has closed yet)"]


async def test_each_passing_feature_shows_its_proofs(project: Path) -> None:
    """F001 holds every proof, F002 only the legacy in-place check; failing ones none."""

    features = make_features(6, 2)
    first = features.features[0]
    assert first.evidence is not None
    first.evidence = first.evidence.model_copy(
        update={
            "tree": "a" * 40,
            "before": Proof(step="journal:r/1/1", tree="b" * 40, exit_code=1, output_digest="x"),
            "review": Review(step="journal:r/1/2", verdict="pass", model="m"),
        }
    )
    (project / "feature_list.json").write_text(dump_feature_list(features))
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        table = app.query_one("#features-table", DataTable)
        shown = {row: str(table.get_cell(row, "proofs")) for row in ("F001", "F002", "F003")}
    assert shown == {"F001": "cln bef eval", "F002": "chk", "F003": ""}


async def test_adopted_unverified_is_its_own_state_and_text_is_not_markup(
    project: Path,
) -> None:
    """An adopted feature not re-verified shows "adopt", is counted apart, and filters
    with is:unverified; a description with "[x]" or "[b]" shows those characters (as Rich
    markup they would vanish)."""

    features = make_features(3, 2)
    first = features.features[0]
    assert first.evidence is not None
    first.evidence = Evidence(
        verification=ADOPTED, at=first.evidence.at, exit_code=0, output_digest="sha256:1"
    )
    features.features[1].description = "[x][b]b[/b]"  # short: the panel is narrow
    (project / "feature_list.json").write_text(dump_feature_list(features))
    app = HarnessApp(project, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, app.ready.is_set)
        assert "(1 adopted, unverified)" in str(app.query_one("#features-summary").content)
        table = app.query_one("#features-table")

        def table_text() -> str:
            return "\n".join("".join(s.text for s in table.render_line(y)) for y in range(6))

        await wait_until(pilot, lambda: "adopt" in table_text())  # drawn
        shown = table_text()
        assert "[x][b]b[/b]" in shown
        app.query_one("#features-filter", Input).value = "is:unverified"
        await pilot.pause()
        assert app.query_one(FeaturesPanel).visible_ids() == ["F001"]
