"""The session's checks on clean checkouts: what verify_feature runs, and what
mark_passing asks for before a feature turns passing.

:class:`Verifier` holds what the session knew at wake (the commit it started from, the
user's uncommitted files, the hidden files) and makes the trees and checkouts.
:meth:`Verifier.prove` is mark_passing's proof, each run a journaled step nested in the
mark_passing step (README, "Verified done"):

1. **after**: the check on a clean checkout of the tree the session would commit now, in a
   fresh sandbox: it must pass (the verify_feature run counts when the tree is the same);
2. **before**: the check on the tree the session started from, with the session's own
   changes to test files laid over it: it must fail, or the check does not tell done from
   not done (a test that asserts nothing passes there too);
3. **review**: the independent evaluator (``[evaluator] mode``), when it applies.

Any of them refusing keeps the feature failing, with the reason (the tool's answer, the
progress entry, the next brief).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from artifacts.git_tree import tree_of
from artifacts.models import Evidence, Proof, Review
from session.command_text import render_command
from session.verify.clean import Checkout, CleanRun, RunnerFactory
from session.verify.evaluator import DIFF_CHARS
from session.verify.hidden import HiddenFiles
from session.verify.history import done_from
from session.verify.trees import (
    Planned,
    before_tree,
    changed_tests,
    diff_text,
    plan_paths,
    session_tree,
)

if TYPE_CHECKING:
    from artifacts.config import HarnessConfig
    from artifacts.git_safety import ConfigChecks
    from artifacts.models import Feature
    from harness.journal.protocol import StepJournal
    from harness.redact import Redactor
    from runners import Resources
    from session.effects import Verified
    from session.verify.evaluator import Evaluator


class Proven(BaseModel):
    """What :meth:`Verifier.prove` concluded: the evidence, or why there is none."""

    feature: str
    evidence: Evidence | None = None
    reason: str = ""
    undistinguished: bool = False
    """The check passed before the session too (it does not tell done from not done)."""


@dataclass
class Verifier:
    """Checks on clean checkouts for one session."""

    root: Path
    config: HarnessConfig
    make_runner: RunnerFactory
    start: str | None
    """The commit the session started from (None: a repository without commits)."""
    user_files: list[str]
    hidden: HiddenFiles
    evaluator: Evaluator | None = None
    sandboxed: bool = True
    checks: ConfigChecks | None = None
    """The run's config checks of the repository (every git command checks it)."""
    secrets: Redactor | None = None
    """The run's secrets: a file holding one is left out of the commit, so of its tree."""

    def planned(self) -> Planned:
        return plan_paths(
            self.root, self.config, self.user_files, checks=self.checks, secrets=self.secrets
        )

    def tree_now(self) -> tuple[str, Planned]:
        """The tree the session would commit now, and the plan it is made of."""
        planned = self.planned()
        return session_tree(self.root, planned, self.checks), planned

    def checkout(self, tree: str, resources: Resources | None, *, hidden: bool = True) -> Checkout:
        verify = self.config.verify
        return Checkout(
            self.root,
            tree,
            checks=self.checks,
            make_runner=self.make_runner,
            hidden=self.hidden if hidden else None,
            carry=verify.carry,
            setup=verify.setup,
            resources=resources,
        )

    def check(self, command: str, tree: str, resources: Resources | None) -> CleanRun:
        """``command`` on a clean checkout of ``tree``, in a fresh sandbox."""
        with self.checkout(tree, resources) as checkout:
            return checkout.run(command)

    def prove(
        self,
        journal: StepJournal,
        feature: Feature,
        verified: Verified,
        resources: Resources | None,
    ) -> Proven:
        """After, before, review: the evidence for ``feature``, or the reason it has none."""
        command = str(feature.check)
        tree, planned = self.tree_now()
        if verified.tree == tree:
            after_ref, digest = verified.ref, verified.output_digest
            output = verified.tail
        else:  # changed since verify_feature: the check runs again on what is there now
            after = self._step(journal, "after", feature.id, command, tree, resources)
            if not after.passed:
                return Proven(
                    feature=feature.id,
                    reason="its check fails on a clean checkout of what this session would "
                    f"commit now (changed since verify_feature): {after.why()}",
                )
            after_ref, digest = journal.ref(journal.last_seq), after.output_digest
            output = _shown(after)
        before = None
        if self.config.verify.before:
            found = self._before(journal, feature, planned, resources)
            if isinstance(found, Proven):
                return found
            before = found
        review = None
        if self._reviews(planned):
            review, reason = self._review(journal, feature, tree, output, resources)
            if review is None:
                return Proven(feature=feature.id, reason=reason)
        evidence = Evidence(
            verification=after_ref,
            at=datetime.now(UTC),
            exit_code=0,
            output_digest=digest,
            command=command,
            session=None,
            tree=tree,
            before=before,
            review=review,
        )
        return Proven(feature=feature.id, evidence=evidence)

    def _before(
        self,
        journal: StepJournal,
        feature: Feature,
        planned: Planned,
        resources: Resources | None,
    ) -> Proof | Proven:
        """The check on the tree the session started from (the session's test changes laid
        over it) must fail; where it passes but an earlier session proved the feature (its
        evidence since lost), the tree that session started from is the one that tells."""

        command = str(feature.check)
        tests = changed_tests(planned, self.config.verify.test_paths)
        base = self.start
        tree = before_tree(self.root, base, tests, self.checks)
        ran = self._step(journal, "before", feature.id, command, tree, resources)
        if ran.passed:
            earlier = done_from(self.root, feature.id, self.checks)
            if earlier is not None and earlier != base:
                base, tree = earlier, before_tree(self.root, earlier, tests, self.checks)
                ran = self._step(journal, "before", feature.id, command, tree, resources)
        if ran.passed:
            laid = f", with this session's test files laid over it ({', '.join(tests[:5])})"
            return Proven(
                feature=feature.id,
                undistinguished=True,
                reason="the check does not tell done from not done: it also passes on the "
                f"tree this session started from (commit {(base or 'none')[:10]}"
                f"{laid if tests else ''}). Make the check test the feature (a test that "
                "fails without it), or, if the feature was already done before this "
                "session, ask a human to approve marking it passing",
            )
        return Proof(
            step=journal.ref(journal.last_seq),
            tree=tree,
            exit_code=ran.exit_code,
            output_digest=ran.output_digest,
        )

    def _step(
        self,
        journal: StepJournal,
        which: str,
        feature: str,
        command: str,
        tree: str,
        resources: Resources | None,
    ) -> CleanRun:
        run: CleanRun = journal.step(
            "runner",
            f"proof:{which}:{feature}",
            {"feature": feature, "command": command, "tree": tree},
            lambda: self.check(command, tree, resources),
            output=CleanRun,
        )
        return run

    def _reviews(self, planned: Planned) -> bool:
        mode = self.config.evaluator.mode
        if self.evaluator is None or mode == "off":
            return False
        return mode == "on" or bool(changed_tests(planned, self.config.verify.test_paths))

    def _review(
        self,
        journal: StepJournal,
        feature: Feature,
        tree: str,
        output: str,
        resources: Resources | None,
    ) -> tuple[Review | None, str]:

        assert self.evaluator is not None
        start = tree_of(self.root, self.start, self.checks)
        diff = diff_text(self.root, start, tree, DIFF_CHARS, self.checks)
        note = ""
        if self.config.verify.hidden:
            note = (
                "Hidden acceptance tests (" + ", ".join(self.config.verify.hidden) + ") are part "
                "of the check; they are not in your checkout.\n"
            )
        verdict, ref = self.evaluator.evaluate(
            journal,
            feature,
            tree=tree,
            check_output=output,
            diff=diff,
            hidden_note=note,
            open_checkout=lambda: self.checkout(tree, resources, hidden=False),
        )
        if not verdict.passed:
            said = "gave no verdict" if not verdict.given else "judged it not done"
            return None, f"the evaluator ({verdict.model}) {said}: {verdict.reasons}"
        return Review(step=ref, verdict="pass", model=verdict.model), ""


def _shown(run: CleanRun) -> str:

    return render_command(run.result())
