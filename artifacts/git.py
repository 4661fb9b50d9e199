"""The project's git repository, through GitPython.

Commits are always made as ``harness <harness@localhost>`` (author and committer passed
explicitly, so no user config is needed), without hooks or signing, with ``Key: value``
trailers (``Harness-Session: <run>/<n>``) that :meth:`GitRepo.find_commit_with_trailer`
finds again: a commit interrupted by a crash is recognised instead of made twice.

Every git command runs hardened (:mod:`artifacts.git_safety`): no hooks, no fsmonitor, no
program the repository's config names; a repository whose own config would run one is
refused when opened.

GitPython keeps ``git cat-file`` children per ``Repo``; :class:`GitRepo` is a context manager
that closes them. ``git`` (about 0.1 s to import) is imported on first use only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from harness.errors import GitError

if TYPE_CHECKING:
    import git

AUTHOR_NAME = "harness"  # the author where git knows no user (artifacts.git_identity)
AUTHOR_EMAIL = "harness@localhost"
_TRAILER_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_TRAILER_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$")


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


def _gitpython() -> Any:
    try:
        import git
    except ImportError as error:  # GitPython raises ImportError when no git binary is found
        raise GitError(f"git is not usable here: {error}. Install git.") from None
    return git


class GitRepo:
    """A git work tree at ``root``; use as ``with GitRepo.open(root) as repo: ...``."""

    def __init__(self, repo: git.Repo, root: Path) -> None:
        from artifacts.git_safety import git_env, git_options

        self._repo = repo
        self.root = root
        # Every GitPython call (cat-file children included) gets the overrides and the env.
        repo.git.set_persistent_git_options(c=git_options()[1::2])
        repo.git.update_environment(
            **{k: v for k, v in git_env().items() if k.startswith(("GIT_", "SSH_"))}
        )

    @classmethod
    def open(cls, root: Path) -> GitRepo:
        """The repository whose work tree is ``root``; GitError if there is none."""
        lib = _gitpython()
        root = Path(root).absolute()
        try:
            repo = lib.Repo(root, search_parent_directories=True)
        except (lib.exc.InvalidGitRepositoryError, lib.exc.NoSuchPathError):
            raise GitError(
                f"{root} is not a git repository. Run `git init` there "
                "(or `harness init`, which makes the first commit)."
            ) from None
        if repo.bare or repo.working_tree_dir is None:
            repo.close()
            raise GitError(f"{root} is a bare git repository; harness needs a work tree.")
        if Path(repo.working_tree_dir).resolve() != root.resolve():
            top = repo.working_tree_dir
            repo.close()
            raise GitError(f"{root} is inside the git work tree {top}, not its top.")
        from artifacts.git_safety import check_config

        try:
            check_config(root)
        except GitError:
            repo.close()
            raise
        return cls(repo, root)

    @classmethod
    def init(cls, root: Path) -> GitRepo:
        """Create a repository at ``root`` (branch ``main``, no commits yet)."""
        lib = _gitpython()
        root = Path(root).absolute()
        try:
            repo = lib.Repo.init(root, mkdir=True, initial_branch="main")
        except (lib.exc.GitCommandError, OSError) as error:
            raise GitError(f"cannot create a git repository at {root}: {error}") from None
        return cls(repo, root)

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
        """Stop GitPython's ``git cat-file`` children and free the repository."""
        self._repo.close()

    def head(self) -> str | None:
        """The sha of HEAD; None in a repository without commits."""
        if not self._repo.head.is_valid():
            return None
        return str(self._repo.head.commit.hexsha)

    def branch(self) -> str | None:
        """The current branch; None when HEAD is detached."""
        if self.is_detached():
            return None
        return str(self._repo.head.ref.name)

    def is_detached(self) -> bool:
        """Whether HEAD points at a commit rather than a branch."""
        return bool(self._repo.head.is_detached)

    def is_dirty(self) -> bool:
        """Whether the work tree differs from HEAD (untracked, not ignored, files count)."""
        from artifacts.git_safety import clear_blockers

        clear_blockers(Path(self._repo.working_tree_dir or "."))
        if self.head() is None:
            return bool(self._repo.git.status("--porcelain"))
        return bool(self._repo.is_dirty(untracked_files=True))

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
        lib = _gitpython()
        text = message.strip()
        if trailers:
            text += "\n\n" + "\n".join(_trailer(k, v) for k, v in trailers.items())
        from artifacts.git_identity import commit_env, with_trailer
        from artifacts.git_safety import git_options

        env, users = commit_env(self.root, config=self._user_config())
        text = with_trailer(text).rstrip("\n") if users else text

        command = [
            "git",
            *git_options(),
            "commit",
            "--no-verify",
            "--quiet",
            "--cleanup=verbatim",
            "-m",
            text,
        ]
        try:
            if paths is None:
                # .harness/ is the harness's machine state: never staged, whatever
                # .gitignore says.
                self._repo.git.add(A=True)
                if self.head() is not None:
                    self._repo.git.reset("-q", "--", ".harness")
                else:
                    self._repo.git.rm("-r", "--cached", "-q", "--ignore-unmatch", "--", ".harness")
            else:
                paths = [p for p in paths if p != ".harness" and not p.startswith(".harness/")]
                if not paths:
                    raise GitError("commit: an empty list of paths; nothing to commit.")
                self._repo.git.add("-A", "--", *paths)
                command += ["--", *paths]
            if not self._staged(paths):
                raise GitError(f"nothing to commit in {self.root} (no changes).")
            self._repo.git.execute(command, env=env)
        except lib.exc.GitCommandError as error:
            raise GitError(f"git commit failed in {self.root}: {_stderr(error)}") from None
        sha = self.head()
        assert sha is not None
        return sha

    def _user_config(self) -> dict[str, str]:
        """``user.name``/``user.email`` as git reads them (repository, global, system),
        through GitPython's reader: no command, the config was checked at open."""
        found: dict[str, str] = {}
        reader = self._repo.config_reader()
        for key in ("name", "email"):
            try:
                found[f"user.{key}"] = str(reader.get_value("user", key))
            except Exception:  # not set at any level
                continue
        return found

    def read_at_head(self, path: str) -> str | None:
        """The text of `path` as committed at HEAD, or None (no commit, or not tracked)."""
        if self.head() is None:
            return None
        try:
            blob = self._repo.head.commit.tree / path
        except KeyError:
            return None
        data: bytes = blob.data_stream.read()
        return data.decode("utf-8")

    def find_commit_with_trailer(self, key: str, value: str) -> str | None:
        """The newest commit whose trailers hold ``key: value``; None if there is none."""
        if self.head() is None:
            return None
        shas = self._repo.git.log("--format=%H", "--fixed-strings", f"--grep={key}: {value}")
        for sha in shas.split():
            message = str(self._repo.commit(sha).message)
            if parse_trailers(message).get(key) == value:
                return str(sha)
        return None

    def log(self, n: int = 20) -> list[CommitInfo]:
        """The last ``n`` commits, newest first (empty without commits)."""
        if self.head() is None:
            return []
        result = []
        for commit in self._repo.iter_commits(max_count=n):
            message = str(commit.message)
            result.append(
                CommitInfo(
                    sha=str(commit.hexsha),
                    summary=message.split("\n", 1)[0],
                    author=f"{commit.author.name} <{commit.author.email}>",
                    date=commit.authored_datetime.astimezone(UTC),
                    message=message,
                    trailers=parse_trailers(message),
                )
            )
        return result

    def _staged(self, paths: list[str] | None) -> bool:
        if self.head() is None:
            return bool(self._repo.git.ls_files(*(["--", *paths] if paths else [])))
        try:
            self._repo.git.diff("--cached", "--quiet", "HEAD", *(["--", *paths] if paths else []))
        except _gitpython().exc.GitCommandError:
            return True  # exit 1: there are differences
        return False


def _trailer(key: str, value: str) -> str:
    if not _TRAILER_KEY.match(key) or "\n" in value:
        raise GitError(f"bad commit trailer {key!r}: {value!r} (one line, key of A-Z, 0-9, -).")
    return f"{key}: {value}"


def _stderr(error: Any) -> str:
    text = str(getattr(error, "stderr", "") or error).strip()
    return text.removeprefix("stderr:").strip().strip("'").strip()


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
    from artifacts.git_safety import ConfigChecks, GitConfigRefused, run_git

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
