"""The features panel: passing/total, a progress bar, a filter and the list."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input, ProgressBar, Static

from artifacts.models import ADOPTED, Feature, FeatureList
from harness.terminal import for_terminal

# A feature's state as the table shows it: passing, failing, or adopted and not re-verified.
MARKS = {
    "passing": Text("pass", "green"),
    "failing": Text("fail", "red"),
    ADOPTED: Text("adopt", "yellow"),
}


def matches(feature: Feature, query: str) -> bool:
    """True when every word of `query` is in the feature (`is:passing`/`is:failing`, and
    `is:unverified` for adopted features not re-verified yet)."""
    text = f"{feature.id} {feature.category} {feature.description}".lower()
    for word in query.lower().split():
        if word in ("is:unverified", "is:adopted"):
            if feature.state != ADOPTED:
                return False
        elif word in ("is:passing", "is:pass"):
            if not feature.passes:
                return False
        elif word in ("is:failing", "is:fail"):
            if feature.passes:
                return False
        elif word not in text:
            return False
    return True


TAGS = {
    "check": "chk",
    "clean": "cln",
    "fails-before": "bef",
    "evaluator": "eval",
    "human": "hum",
    "adopted": "adopted",
}


def proof_tags(feature: Feature) -> str:
    """A passing feature's proofs, short ("cln bef eval"; "?" help in the app)."""
    if not feature.passes or feature.evidence is None:
        return ""
    proofs = feature.evidence.proofs()
    shown = [TAGS.get(p, p) for p in proofs if p != "check" or len(proofs) == 1]
    return " ".join(shown)


class FeaturesPanel(Vertical):
    """Feature list status; the filter narrows the table, never the counts."""

    BORDER_TITLE = "Features"

    def __init__(self) -> None:
        super().__init__(id="features")
        self._features: FeatureList | None = None

    def compose(self) -> ComposeResult:
        yield Static("reading feature_list.json...", id="features-summary")
        yield ProgressBar(total=None, show_eta=False, id="features-bar")
        yield Input(
            placeholder="filter: words, is:passing, is:failing, is:unverified",
            id="features-filter",
        )
        table: DataTable[str] = DataTable(
            id="features-table", cursor_type="row", zebra_stripes=True
        )
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#features-table", DataTable)
        table.add_column("id", key="id")
        table.add_column("", key="status", width=5)
        table.add_column("pri", key="priority", width=3)
        table.add_column("proofs", key="proofs", width=13)
        table.add_column("description", key="description")

    def show(self, features: FeatureList | None, error: str | None = None) -> None:
        """Draw a new feature list (or the reason there is none)."""
        summary = self.query_one("#features-summary", Static)
        if error is not None:
            summary.update(Text.assemble(("feature list: ", "b red"), error))
            return
        if features is None:
            return
        self._features = features
        total, passing = len(features.features), features.passing
        self.query_one("#features-bar", ProgressBar).update(total=max(total, 1), progress=passing)
        unverified = sum(1 for f in features.features if f.state == ADOPTED)
        summary.update(
            Text.assemble(
                (f"{passing}/{total}", "b"),
                " passing",
                (f" ({unverified} adopted, unverified)", "yellow") if unverified else "",
            )
        )
        self.border_subtitle = f"{passing}/{total}"
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#features-table", DataTable)
        table.clear()
        if self._features is None:
            return
        query = self.query_one("#features-filter", Input).value
        for feature in self._features.features:
            if not matches(feature, query):
                continue
            mark = MARKS[feature.state]
            table.add_row(  # Text, not str: a description is the project's words, not markup
                Text(feature.id),
                mark,
                str(feature.priority),
                proof_tags(feature),
                Text(for_terminal(feature.description, one_line=True)),
                key=feature.id,
            )

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "features-filter":
            event.stop()
            self._fill()

    def visible_ids(self) -> list[str]:
        """Ids of the rows the filter lets through (for tests and the status line)."""
        table = self.query_one("#features-table", DataTable)
        return [str(key.value) for key in table.rows]
