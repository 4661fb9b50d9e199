"""Verified done: checks on clean checkouts in fresh sandboxes, and the proofs a feature
needs before it turns passing (README, "Verified done").

`trees` plans the session's commit and the trees it proves on, `clean` makes checkouts
with a runner on them, `verifier` gives mark_passing its proofs (after, before, review),
`evaluator` is the independent review, `recheck` the writeback's regression checks,
`hidden` the acceptance tests the worker cannot read, `wiring` builds them for a run.
"""

from session.verify.clean import Checkout, CleanRun
from session.verify.evaluator import Evaluator, Verdict
from session.verify.verifier import Proven, Verifier

__all__ = ["Checkout", "CleanRun", "Evaluator", "Proven", "Verdict", "Verifier"]
