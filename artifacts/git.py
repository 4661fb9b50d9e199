"""The project's git repository, through the one hardened door (:func:`run_git`).

Commits are made as the user git knows (harness named in a ``Co-authored-by`` trailer),
else as ``harness <harness@localhost>`` (:mod:`artifacts.git_identity`), without hooks or
signing, with ``Key: value``
trailers (``Harness-Session: <run>/<n>``) that :meth:`GitRepo.find_commit_with_trailer`
finds again: a commit interrupted by a crash is recognised instead of made twice.

Every git command runs hardened (:mod:`artifacts.git_safety`): the absolute ``git`` found
outside the project, no hooks, no fsmonitor, no mailmap, no program the repository's
config names, a time limit, and the files git would block on (a FIFO named
``.gitignore``, ``.mailmap``, a nested repository's ``HEAD``...) removed first; a
repository whose own config would run a program is refused when opened. GitPython is
not used: its calls had no time limit, kept ``git cat-file`` children, and its time-limit
kill runs ``pgrep`` from ``PATH`` in the work tree.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from artifacts.git_identity import commit_env, with_trailer
from artifacts.git_safety import ConfigChecks, GitConfigRefused, run_git, run_git_unchecked
from harness.errors import GitError

AUTHOR_NAME = "harness"  # the author where git knows no user (artifacts.git_identity)
AUTHOR_EMAIL = "harness@localhost"
_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_TRAILER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$")
# One commit of `git log -z --format=...`: five NUL-separated fields (a message holds no NUL).
_LOG_FORMAT = "--format=%H%x00%an%x00%ae%x00%aI%x00%B"
_LOG_FIELDS = 5


@dataclass(frozen=True)
class CommitInfo:
    """One commit of the log."""

    sha: str
    summary: str
    author: str
    date: datetime
    message: str = ""
    trailers: dict[str, str] = field(default_factory=dict)


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` lines of the message's last paragraph (empty if it has others)."""
    paragraphs = message.strip().split("\n\n")
    if len(paragraphs) < 2:
        return {}
    found: dict[str, str] = {}
    for line in paragraphs[-1].splitlines():
        match = _TRAILER_LINE.match(line)
        if match is None:
            return {}
        found[match.group(1)] = match.group(2)
    return found


class GitRepo:
    """A git work tree at ``root``; use as ``with GitRepo.open(root) as repo: ...``.

    ``checks``: the config-check verdicts its calls share (the caller's, e.g. a run's;
    by default its own, so a second call skips an unchanged config's check)."""

    def __init__(self, root: Path, checks: ConfigChecks | None = None) -> None:

        self.root = root
        self.checks = checks if checks is not None else ConfigChecks()

    def _git(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        return self._run(*args, check=check, env=env).stdout.decode("utf-8", "replace")

    def _ok(self, *args: str) -> bool:
        return self._run(*args, check=False).returncode == 0

    def _run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[bytes]:

        return run_git(self.root, *args, check=check, env=env, checks=self.checks)

    @classmethod
    def open(cls, root: Path, checks: ConfigChecks | None = None) -> GitRepo:
        """The repository whose work tree is ``root``; GitError if there is none."""

        root = Path(root).absolute()
        missing = GitError(
            f"{root} is not a git repository. Run `git init` there "
            "(or `harness init`, which makes the first commit)."
        )
        if not root.is_dir():
            raise missing
        repo = cls(root, checks)
        done = repo._run("rev-parse", "--is-bare-repository", check=False)  # checks config
        why = done.stderr.decode("utf-8", "replace")
        if done.stdout.strip() == b"true" or "bare repository" in why:
            raise GitError(f"{root} is a bare git repository; harness needs a work tree.")
        if done.returncode != 0:
            if "not a git repository" in why:
                raise missing
            raise GitError(f"git cannot open {root}: {why.strip()}")
        top = repo._git("rev-parse", "--show-toplevel").strip()
        if Path(top).resolve() != root.resolve():
            raise GitError(f"{root} is inside the git work tree {top}, not its top.")
        return repo

    @classmethod
    def init(cls, root: Path) -> GitRepo:
        """Create a repository at ``root`` (branch ``main``, no commits yet)."""

        root = Path(root).absolute()
        try:
            root.mkdir(parents=True, exist_ok=True)
            run_git_unchecked(root, "init", "-q", "-b", "main")
        except (GitError, OSError) as error:
            raise GitError(f"cannot create a git repository at {root}: {error}") from None
        return cls(root)

    def __enter__(self) -> GitRepo:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to free: every call is one git process that has ended."""

    def head(self) -> str | None:
        """The sha of HEAD; None in a repository without commits."""
        sha = self._git("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return sha.strip() or None

    def branch(self) -> str | None:
        """The current branch; None when HEAD is detached."""
        name = self._git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return name.strip() or None

    def is_detached(self) -> bool:
        """Whether HEAD points at a commit rather than a branch."""
        return not self._ok("symbolic-ref", "--quiet", "HEAD")

    def is_dirty(self) -> bool:
        """Whether the work tree differs from HEAD (untracked, not ignored, files count)."""
        return bool(self._git("status", "--porcelain", "-z", "--untracked-files=normal"))

    def commit(
        self,
        message: str,
        *,
        paths: list[str] | None = None,
        trailers: dict[str, str] | None = None,
    ) -> str:
        """Commit ``paths`` (default: every change, respecting .gitignore); return the sha.

        With ``paths``, only those paths are committed; other staged changes stay staged.
        """
        text = message.strip()
        if trailers:
            text += "\n\n" + "\n".join(_trailer(k, v) for k, v in trailers.items())

        env, users = commit_env(self.root, checks=self.checks)  # the user's identity, if any
        text = with_trailer(text).rstrip("\n") if users else text
        command = ["commit", "--no-verify", "--quiet", "--cleanup=verbatim", "-m", text]
        if paths is None:
            # .harness/ is the harness's machine state: never staged, whatever .gitignore says.
            self._git("add", "-A")
            if self.head() is not None:
                self._git("reset", "-q", "--", ".harness")
            else:
                self._git("rm", "-r", "--cached", "-q", "--ignore-unmatch", "--", ".harness")
        else:
            paths = [p for p in paths if p != ".harness" and not p.startswith(".harness/")]
            if not paths:
                raise GitError("commit: an empty list of paths; nothing to commit.")
            self._git("add", "-A", "--", *paths)
            command += ["--", *paths]
        if not self._staged(paths):
            raise GitError(f"nothing to commit in {self.root} (no changes).")
        self._git(*command, env=env)
        sha = self.head()
        assert sha is not None
        return sha

    def read_at_head(self, path: str) -> str | None:
        """The text of `path` as committed at HEAD, or None (no commit, or not tracked)."""
        done = self._run("cat-file", "blob", f"HEAD:{path}", check=False)
        return done.stdout.decode("utf-8") if done.returncode == 0 else None

    def find_commit_with_trailer(self, key: str, value: str) -> str | None:
        """The newest commit whose trailers hold ``key: value``; None if there is none."""
        found = self._log("-z", _LOG_FORMAT, "--fixed-strings", f"--grep={key}: {value}")
        for commit in _commits(found):
            if commit.trailers.get(key) == value:
                return commit.sha
        return None

    def log(self, n: int = 20) -> list[CommitInfo]:
        """The last ``n`` commits, newest first (empty without commits)."""
        return _commits(self._log("-z", f"--max-count={n}", _LOG_FORMAT))

    def _log(self, *args: str) -> str:
        """``git log args``; "" without commits (asked only when the log fails: one git
        command where there are commits)."""
        done = self._run("log", *args, check=False)
        if done.returncode == 0:
            return done.stdout.decode("utf-8", "replace")
        if self.head() is None:
            return ""
        why = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise GitError(f"git log failed in {self.root}: {why}")

    def _staged(self, paths: list[str] | None) -> bool:
        pathspec = ["--", *paths] if paths else []
        if self.head() is None:
            return bool(self._git("ls-files", *pathspec))
        return not self._ok("diff", "--cached", "--quiet", "HEAD", *pathspec)


def _commits(output: str) -> list[CommitInfo]:
    """The commits of ``git log -z`` with :data:`_LOG_FORMAT`."""
    fields = output.split("\0")
    result = []
    for index in range(0, len(fields) - _LOG_FIELDS + 1, _LOG_FIELDS):
        sha, name, email, date, message = fields[index : index + _LOG_FIELDS]
        result.append(
            CommitInfo(
                sha=sha.strip(),
                summary=message.split("\n", 1)[0],
                author=f"{name} <{email}>",
                date=datetime.fromisoformat(date).astimezone(UTC),
                message=message,
                trailers=parse_trailers(message),
            )
        )
    return result


def _trailer(key: str, value: str) -> str:
    if not _TRAILER_KEY.match(key) or "\n" in value:
        raise GitError(f"bad commit trailer {key!r}: {value!r} (one line, key of A-Z, 0-9, -).")
    return f"{key}: {value}"


@dataclass(frozen=True)
class QuickStatus:
    """What `harness status` shows of git; ``error`` says why git could not tell."""

    head: str | None
    dirty: bool
    detached: bool
    branch: str | None
    summary: str | None = None
    error: str | None = None


def quick_status(root: Path) -> QuickStatus:
    """Head, dirty, detached and branch from one ``git status --porcelain=v2`` run.

    Read-only and without GitPython: importing it and its calls cost about 0.15 s, most of
    the start-up budget of `harness status`. Everything that writes uses :class:`GitRepo`.
    """

    if not (root / ".git").exists():
        return QuickStatus(None, False, False, None, error=f"{root} is not a git repository")
    checks = ConfigChecks()  # this call's: the second command skips an unchanged config
    try:  # run_git checks the repository's config first
        done = run_git(
            root,
            "status",
            "--porcelain=v2",
            "--branch",
            "-z",
            check=False,
            timeout=30,
            checks=checks,
        )
    except GitConfigRefused as error:
        return QuickStatus(None, False, False, None, error=str(error))
    except GitError as error:
        return QuickStatus(None, False, False, None, error=f"git status failed: {error}")
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip()
        return QuickStatus(None, False, False, None, error=f"git status failed: {why}")
    head: str | None = None
    branch: str | None = None
    dirty = False
    for record in done.stdout.decode("utf-8", "replace").split("\0"):
        if record.startswith("# branch.oid "):
            oid = record.removeprefix("# branch.oid ")
            head = None if oid == "(initial)" else oid
        elif record.startswith("# branch.head "):
            branch = record.removeprefix("# branch.head ")
        elif record and not record.startswith("#"):
            dirty = True
    detached = branch == "(detached)"
    summary = None
    if head is not None:
        shown = run_git(
            root, "log", "-1", "--format=%s", head, check=False, timeout=30, checks=checks
        )
        summary = shown.stdout.decode("utf-8", "replace").strip() or None
    return QuickStatus(head, dirty, detached, None if detached else branch, summary)
