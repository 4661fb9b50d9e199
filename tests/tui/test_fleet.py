"""`harness tui --fleet` with Textual's pilot on real fleet databases: the embedded one
(SQLite and DBOS on SQLite) and a real PostgreSQL; a run parked on a question, answered in
the TUI, goes on on a real worker; a bad URL or a database that does not answer is said,
with a non-zero exit and no traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, OptionList, Static

from escalation.questions import QuestionStore
from fleet.app import Client, app_version
from fleet.db import FleetDb, QuestionRow, RunRow
from fleet.place import fleet_place
from tests.fleet.support import Fleet, all_in, new_database, scripted_project
from tests.pg import own_pg_server, pg_server  # noqa: F401 (fixtures)
from tests.session.support import call, good_turns, harness_run, turn
from tests.tui.test_features import wait_until
from tests.tui.test_run_state import screen_text
from tui.fleet_app import FleetApp
from tui.fleet_data import open_fleet
from tui.fleet_runs import RunsPanel
from tui.inbox import InboxPanel

TAKES_S = 900  # a real worker under a loaded machine: a generous deadline, not a bound


def _seed(db: FleetDb, version: str) -> None:
    """Five runs of every kind of state, two of them parked on questions."""
    rows = [
        RunRow("built", "/src/a", state="complete", passing=2, total=2, cost_usd=0.25),
        RunRow("busy", "/src/b", state="running", worker="wA", passing=1, total=3),
        RunRow("gate", "/src/c", state="parked", passing=0, total=2),
        RunRow("ask", "/src/d", state="parked", passing=1, total=4),
        RunRow("old", "/src/e", state="queued", version="journal-0"),
    ]
    for row in rows:
        row.version = row.version or version
        db.add_run(row)
        db.update_run(
            row.id, state=row.state, worker=row.worker, passing=row.passing,
            total=row.total, cost_usd=row.cost_usd,
        )  # fmt: skip
    db.put_questions(
        [
            QuestionRow("gate", "q1", "approval", "Install [red]lxml[/red]?", [], "2026-01-01"),
            QuestionRow("ask", "q1", "question", "Which database?", ["sqlite", "pg"], "2026-01-02"),
        ]
    )


def _table_text(app: FleetApp) -> str:
    table = app.query_one("#runs-table", DataTable)
    return "\n".join(
        " ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)
    )


async def test_embedded_fleet_lists_runs_live_and_settles_questions(
    tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("HARNESS_FLEET_HOME", str(tmp_path / "fleet"))
    monkeypatch.delenv("HARNESS_FLEET_URL", raising=False)
    place = fleet_place()
    db = FleetDb(place)
    _seed(db, app_version())
    source = open_fleet(None)
    app = FleetApp(source, poll_s=0.2)
    try:
        async with app.run_test(size=(200, 60)) as pilot:
            await wait_until(pilot, lambda: app.query_one(RunsPanel).runs != [])
            shown = _table_text(app)
            assert "built complete 2/2 $0.2500" in shown
            assert "busy running 1/3 $0.0000 wA" in shown
            assert "old queued 0/0 $0.0000 - journal-0 stranded /src/e" in shown
            status = str(app.query_one("#status").content)
            assert "the embedded fleet in" in status and "2 question(s) waiting" in status
            inbox = app.query_one(InboxPanel)
            assert [q.id for q in inbox.questions] == ["gate/q1", "ask/q1"]
            # the agent's text is drawn as text: its markup shows, it does not style
            assert "Install [red]lxml[/red]?" in str(
                app.query_one("#inbox-detail", Static).render()
            )

            db.update_run("busy", passing=3, cost_usd=1.5)  # a worker writes: shown live
            await wait_until(pilot, lambda: "busy running 3/3 $1.5000" in _table_text(app))

            table = app.query_one("#runs-table", DataTable)
            table.move_cursor(row=3)  # the run "ask": enter shows its question
            await pilot.press("enter")
            chosen = inbox.selected()
            assert chosen is not None and chosen.id == "ask/q1"
            app.query_one("#inbox-list", OptionList).highlighted = 0
            await pilot.press("i", "a")  # approve gate/q1: the run goes on
            await wait_until(pilot, lambda: [q.id for q in inbox.questions] == ["ask/q1"])
            await wait_until(pilot, lambda: "gate queued" in _table_text(app))
            await pilot.press("2")  # the second choice of ask/q1
            await wait_until(pilot, lambda: inbox.questions == [])
            answered = db.questions_of("ask")[0]
            assert (answered.status, answered.answer, answered.choice) == ("answered", "pg", 1)
            await wait_until(pilot, lambda: "ask queued" in _table_text(app))
    finally:
        source.close()
    client = Client(place)  # both next drives are on the queue, for any worker
    try:
        found = client.client.list_workflows(workflow_ids=["gate/drive/2", "ask/drive/2"])
        assert sorted(w.workflow_id for w in found) == ["ask/drive/2", "gate/drive/2"]
    finally:
        client.close()
        db.close()


async def test_deny_with_a_reason_at_80x24(
    tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("HARNESS_FLEET_HOME", str(tmp_path / "fleet"))
    monkeypatch.delenv("HARNESS_FLEET_URL", raising=False)
    db = FleetDb(fleet_place())
    _seed(db, app_version())
    source = open_fleet(None)
    app = FleetApp(source, poll_s=0.2)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            inbox = app.query_one(InboxPanel)
            await wait_until(pilot, lambda: len(inbox.questions) == 2)
            await pilot.pause()
            assert app.screen.has_class("compact")
            screen = screen_text(app)  # what the terminal shows, clipping included
            assert "gate/q1" in screen and "a approve" in screen and "d deny" in screen
            assert "built" in screen and "complete" in screen
            await pilot.press("i", "d")
            await pilot.press(*"no native code")
            await pilot.press("enter")
            await wait_until(pilot, lambda: [q.id for q in inbox.questions] == ["ask/q1"])
            denied = db.questions_of("gate")[0]
            assert (denied.status, denied.answer) == ("denied", "no native code")
            await pilot.press("t", *"mysql", "enter")  # a typed answer, not a choice
            await wait_until(pilot, lambda: inbox.questions == [])
            assert db.questions_of("ask")[0].answer == "mysql"
    finally:
        source.close()
        db.close()


async def test_a_questions_context_scores_and_reason_at_80x24(
    tmp_path: Path, state_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What made the agent ask reaches the fleet inbox: before, the fleet's table held only
    the text and choices, so the person answering saw neither context nor scores."""

    monkeypatch.setenv("HARNESS_FLEET_HOME", str(tmp_path / "fleet"))
    monkeypatch.delenv("HARNESS_FLEET_URL", raising=False)
    db = FleetDb(fleet_place())
    db.add_run(RunRow("ask", "/src/d", state="parked", version=app_version()))
    scores = {"uncertainty": 0.8, "novelty": 0.5, "benefit": 0.6, "total": 0.72}
    question = QuestionRow(
        "ask", "q1", "question", "Which database?", ["sqlite", "pg"], "2026-01-02",
        context="the tests need a [b]server[/b]", scores={**scores, "policy": "config"},
        reason="score 0.72 above threshold 0.6",
    )  # fmt: skip
    db.put_questions([question])
    source = open_fleet(None)
    app = FleetApp(source, poll_s=0.2)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            inbox = app.query_one(InboxPanel)
            await wait_until(pilot, lambda: len(inbox.questions) == 1)
            await pilot.press("i")
            await pilot.pause()
            screen = screen_text(app)  # what the terminal shows, clipping included
            assert "QUESTION ask/q1  Which database?" in screen
            assert "the tests need a [b]server[/b]" in screen  # the agent's text, unstyled
            assert "scores: uncertainty 0.80  novelty 0.50  benefit 0.60  total 0.72" in screen
            assert "why asked: score 0.72 above threshold 0.6" in screen
    finally:
        source.close()
        db.close()


def _tui(
    *args: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> subprocess.CompletedProcess[str]:
    """`harness tui ARGS` in this process (what is read is its exit code and its two
    streams: a refusal before any screen needs no process of its own), ``env`` set."""
    with monkeypatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        return harness_run(Path.cwd(), "tui", *args)


def test_bad_urls_and_a_database_that_does_not_answer(
    tmp_path: Path,
    state_home: Path,
    pg_server: Any,  # noqa: F811 (fixture)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"HARNESS_FLEET_HOME": str(tmp_path / "fleet"), "HARNESS_FLEET_URL": ""}
    cases = [
        (("--fleet", "--url", "mysql://u@h/db"), 2, "--url: 'mysql' is not a PostgreSQL URL"),
        (("--fleet", "--url", "postgresql://u@h:abc/db"), 2, "not a valid PostgreSQL URL"),
        (("--url", "postgresql://u@h/db"), 2, "add --fleet"),
        (("--fleet", "--url", "postgresql://u:secret@127.0.0.1:1/db"), 4, "cannot be reached"),
        (("--fleet", "--url", pg_server.url(database="no_such_db")), 4, "cannot be reached"),
    ]
    for args, code, said in cases:
        done = _tui(*args, env=env, monkeypatch=monkeypatch)
        assert done.returncode == code, (args, done.stderr)
        assert said in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout
        assert "secret" not in done.stderr  # the password is never printed
    by_variable = _tui(
        "--fleet", env={**env, "HARNESS_FLEET_URL": "sqlite:///x.db"}, monkeypatch=monkeypatch
    )
    assert by_variable.returncode == 2
    assert "HARNESS_FLEET_URL: 'sqlite' is not a PostgreSQL URL" in by_variable.stderr


async def test_a_database_that_stops_answering_is_said_and_read_again(
    own_pg_server: Any,  # noqa: F811 (fixture)
    state_home: Path,
) -> None:

    url = new_database(own_pg_server)
    db = FleetDb(fleet_place(url))
    _seed(db, app_version())
    source = open_fleet(url)
    app = FleetApp(source, poll_s=0.2)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: "busy running 1/3" in _table_text(app))
            own_pg_server.stop()
            await wait_until(pilot, lambda: bool(app.error))
            status = str(app.query_one("#status").content)
            assert "the database does not answer" in status, status
            assert "busy running 1/3" in _table_text(app)  # the last read stays on screen
            own_pg_server.start()
            db.update_run("busy", state="complete", passing=3)
            await wait_until(pilot, lambda: "busy complete 3/3" in _table_text(app))
            assert app.error == ""
            assert "does not answer" not in str(app.query_one("#status").content)
    finally:
        source.close()
        db.close()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("where", "size"),
    [("postgresql", (80, 24)), ("embedded", (200, 60))],
    ids=["postgresql-80x24", "embedded-200x60"],
)
async def test_a_parked_run_answered_in_the_tui_goes_on_on_a_worker(
    where: str,
    size: tuple[int, int],
    tmp_path: Path,
    state_home: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if where == "postgresql":
        fleet = Fleet(new_database(request.getfixturevalue("pg_server")), tmp_path / "fleet", {})
    else:  # the embedded fleet: SQLite tables, DBOS on SQLite, no server
        fleet = Fleet(None, tmp_path / "fleet", {"HARNESS_FLEET_URL": ""})
        monkeypatch.setenv("HARNESS_FLEET_HOME", str(fleet.home))
        monkeypatch.delenv("HARNESS_FLEET_URL", raising=False)
    fleet.home.mkdir()
    asks = [turn(call("ask_human", question="Which colour?")), *good_turns(1)]
    source_dir = scripted_project(tmp_path / "src", count=1, sessions={1: asks}, latency_s=0.0)
    try:
        fleet.submit(source_dir, "park1")  # as the command does (tests/fleet/test_cli.py)
        fleet.start_worker("wA", runs=2)
        (row,) = fleet.wait(all_in(("parked", "complete", "failed", "budget")), TAKES_S)
        assert row["state"] == "parked", row
        source = open_fleet(fleet.url)
        app = FleetApp(source, poll_s=0.3)
        try:
            async with app.run_test(size=size) as pilot:
                inbox = app.query_one(InboxPanel)
                await wait_until(pilot, lambda: len(inbox.questions) == 1)
                await pilot.pause()
                screen = screen_text(app)
                assert "park1/q1" in screen and "Which colour?" in screen
                assert "park1" in _table_text(app) and "parked" in _table_text(app)
                await pilot.press("i", "t", *"blue", "enter")
                await wait_until(pilot, lambda: inbox.questions == [])
                # shown live, as the free worker takes the next drive and finishes the run
                await wait_until(pilot, lambda: "park1 complete 1/1" in _table_text(app), TAKES_S)
        finally:
            source.close()
        (row,) = fleet.status()
        assert row["drive"] == 2 and row["features"] == {"passing": 1, "total": 1}, row

        project = fleet.project_of("park1")
        with QuestionStore(fleet.journal_of("park1"), project_root=project) as store:
            (question,) = store.all()
        assert question.status == "answered" and question.answer == "blue"
    finally:
        fleet.stop_all()
