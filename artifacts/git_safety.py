"""Host git that runs no program the project chose.

The agent can write the project's ``.git/`` (the local runner does not stop it, and a
sandbox bug might not), so every git command harness runs on the host is the absolute
``git`` found outside the project (:mod:`harness.hostpath`: a ``git`` the agent wrote into
a folder on a relative ``PATH`` entry never runs), has a time limit, and carries
:data:`OVERRIDES` (``-c key=value``, which beat every config file): no hooks, no
fsmonitor, no credential helper, no pager, editor, ssh or gpg program, no mailmap.
:func:`git_env` drops the environment variables that would point git at other files or
programs, and gives git the same trusted ``PATH``. Before a command that reads the work
tree's own files, the files git would wait on forever (a FIFO named ``.gitignore``,
``.mailmap``, a nested repository's ``HEAD``) are removed (:mod:`artifacts.git_blockers`).

Keys whose names the project picks (``filter.<driver>.clean``, ``diff.<driver>.textconv``,
``merge.<driver>.driver``) or that pull in other files (``include.path``, ``includeIf``)
cannot be overridden one by one: :func:`check_config` refuses a repository whose own config
(``.git/config``, ``config.worktree``, or a file they include) sets any key that would
execute a program, naming the key and the command that removes it. The user's global and
system config are the user's own and are trusted. ``core.hooksPath`` is allowed (tools such
as husky set it): it is overridden, so no hook runs.

The check reads the repository's config files once (:func:`artifacts.git_stamp.config_files`)
and has git parse exactly those bytes (``git config --file - --list``, a process as long as
the command it guards), so its verdict "runs nothing" belongs to that content alone: a
:class:`ConfigChecks` that a run (or a command) owns and passes to its git calls keeps it
under the bytes' digest, and the check asks git again whenever the bytes differ, whatever
the files' timestamps say. A call given no ``ConfigChecks`` asks git every time.

harness never calls a git alias (git does not let an alias shadow a built-in command), so
``alias.*`` keys are harmless to it and are left alone.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, cast

from artifacts.git_blockers import WORK_TREE_READERS, clear_blockers
from artifacts.git_stamp import ConfigFiles, config_files, head_files, plain_objects
from artifacts.git_sweep import Sweep
from harness.errors import GitError, GitRefused
from harness.hostpath import program, trusted_path

GIT_TIMEOUT_S = 120.0
"""The longest any git command of the harness may take before it is killed."""

# Each pair becomes `-c key=value` on every git command harness runs.
OVERRIDES: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("core.untrackedCache", "false"),
    ("core.sshCommand", "false"),
    ("core.askPass", ""),
    ("core.editor", "false"),
    ("core.pager", "cat"),
    ("credential.helper", ""),
    ("sequence.editor", "false"),
    ("gpg.program", "false"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("protocol.allow", "never"),
    ("submodule.recurse", "false"),
    # A submodule (or an embedded repository committed as a gitlink) has its own config,
    # which the agent can write and check_config does not read: `git status` and `git
    # diff` would run that config's filters while looking inside it. They never look.
    ("diff.ignoreSubmodules", "all"),
    ("status.submoduleSummary", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("safe.bareRepository", "explicit"),
    # The work tree's .mailmap is read by `git log` (and %aN, shortlog, blame): a FIFO
    # there blocked every wake. harness formats authors with %an/%ae, never mapped.
    ("log.mailmap", "false"),
    ("mailmap.file", ""),
    ("mailmap.blob", ""),
)

# Environment variables that point git at other repositories, config or programs.
_DROPPED_ENV = re.compile(
    r"^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|"
    r"COMMON_DIR|NAMESPACE|CEILING_DIRECTORIES|DISCOVERY_ACROSS_FILESYSTEM|CONFIG|"
    r"CONFIG_PARAMETERS|CONFIG_COUNT|CONFIG_KEY_\d+|CONFIG_VALUE_\d+|EXTERNAL_DIFF|SSH|"
    r"SSH_COMMAND|ASKPASS|EDITOR|SEQUENCE_EDITOR|PAGER|PROXY_COMMAND|EXEC_PATH|TEMPLATE_DIR)$"
)
_FORCED_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "GIT_EDITOR": "false",
    "GIT_SEQUENCE_EDITOR": "false",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GIT_OPTIONAL_LOCKS": "0",  # `git status` does not take index.lock to refresh it
    "GIT_ATTR_NOSYSTEM": "1",
}

# Keys of the repository's own config that would make git run a program harness cannot
# override by name. Matched on the lower-cased key.
_REFUSED = (
    (re.compile(r"^filter\.[^=]+\.(clean|smudge|process)$"), "a filter driver program"),
    (re.compile(r"^diff\.[^=]+\.(textconv|command)$"), "a diff driver program"),
    (re.compile(r"^merge\.[^=]+\.driver$"), "a merge driver program"),
    (re.compile(r"^include\.path$"), "pulls in another config file"),
    (re.compile(r"^includeif\..+\.path$"), "pulls in another config file"),
    (re.compile(r"^credential\..+\.helper$"), "a credential helper program"),
    (re.compile(r"^gpg\.[^.]+\.program$"), "a signing program"),
    (re.compile(r"^pager\..+$"), "a pager program"),
    (re.compile(r"^core\.(gitproxy|alternaterefscommand|worktree)$"), "a program or other tree"),
    (re.compile(r"^uploadpack\.packobjectshook$"), "a hook program"),
    (re.compile(r"^remote\..+\.(uploadpack|receivepack|vcs)$"), "a remote program"),
    (re.compile(r"^core\.fsmonitor$"), "an fsmonitor hook program"),
    (re.compile(r"^(core\.sshcommand|core\.editor|core\.pager|core\.askpass)$"), "a program"),
    (
        re.compile(r"^(credential\.helper|gpg\.program|sequence\.editor|diff\.external)$"),
        "a program",
    ),
)
_HARMLESS_VALUES = {"", "false", "true", "no", "yes", "off", "on", "0", "1", "cat"}
_FIXED = {key.lower() for key, _ in OVERRIDES}


def git_options() -> list[str]:
    """``-c key=value`` for every override, to put right after ``git``."""
    options: list[str] = []
    for key, value in OVERRIDES:
        options += ["-c", f"{key}={value}"]
    return options


def git_program(root: Path | str | None = None, *, path: str | None = None) -> str:
    """The absolute path of ``git`` on the trusted ``PATH`` (never inside ``root``;
    ``path``: that trusted ``PATH``, when the caller has it).

    Raises:
        GitError: git is not installed (on the trusted ``PATH``).
    """
    found = program("git", outside=Path(root) if root is not None else None, path=path)
    if found is None:
        raise GitError(
            "git is not installed (no `git` on PATH outside the project). Install git "
            "(e.g. apt install git)."
        )
    return found


def git_argv(root: Path | str, *args: str, path: str | None = None) -> list[str]:
    """The full command line of a hardened ``git -C root args...`` (``path``: as for
    :func:`git_program`)."""
    return [git_program(root, path=path), *git_options(), "-C", str(root), *args]


def git_env(
    extra: dict[str, str] | None = None,
    *,
    root: Path | str | None = None,
    path: str | None = None,
) -> dict[str, str]:
    """The process environment for git: redirecting variables dropped, prompts off, a
    ``PATH`` of absolute folders outside ``root`` (git finds its helpers there; ``path``:
    that ``PATH``, when the caller has it)."""
    env = {k: v for k, v in os.environ.items() if not _DROPPED_ENV.match(k)}
    env.update(_FORCED_ENV)
    if path is None:
        path = trusted_path(outside=Path(root) if root is not None else None)
    env["PATH"] = path
    if extra:
        env.update(extra)
    return env


def run_git(
    root: Path | str,
    *args: str,
    check: bool = True,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = GIT_TIMEOUT_S,
    checks: ConfigChecks | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run hardened git in ``root``; GitError naming the command on failure when ``check``.

    The repository's config is checked first, every time (GitConfigRefused): a command
    such as ``git status`` runs a clean filter the agent planted a moment ago, and the
    overrides cannot name every filter. ``checks`` (the caller's :class:`ConfigChecks`)
    skips the ``git config`` run while the config files are as its clean verdict found them.
    Before a command that reads the work tree, the files git would block on are removed and
    named (by ``checks``'s sweep of the tree and to its ``say`` when given: see
    :meth:`ConfigChecks.clear`; else on stderr).
    """

    check_config(Path(root), checks)
    if _subcommand(args) in WORK_TREE_READERS:
        cleared = checks.clear(Path(root)) if checks is not None else clear_blockers(Path(root))
        say = checks.say if checks is not None and checks.say is not None else _on_stderr
        for path in cleared:
            say(
                f"removed {path}: not a regular file, where git reads (git would wait on it "
                "forever)"
            )
    return run_git_unchecked(root, *args, check=check, input=input, env=env, timeout=timeout)


def _on_stderr(text: str) -> None:
    """What a git call without an owner's ``say`` (a one-off command) says."""
    print(f"harness: {text}", file=sys.stderr)


def _subcommand(args: tuple[str, ...]) -> str:
    """The git subcommand of ``args`` (after global options such as ``--work-tree X``)."""
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in ("--work-tree", "--git-dir", "-c") else 1
    return args[index] if index < len(args) else ""


def run_git_unchecked(
    root: Path | str,
    *args: str,
    check: bool = True,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = GIT_TIMEOUT_S,
) -> subprocess.CompletedProcess[bytes]:
    """Hardened git without the config check or the sweep (``git init``, the check itself)."""
    try:
        # The trusted PATH once for the program and its environment (each resolves every
        # PATH folder: ~2 ms a git call).
        path = trusted_path(outside=Path(root))
        done = subprocess.run(
            git_argv(root, *args, path=path),
            capture_output=True,
            input=input,
            env=git_env(env, root=root, path=path),
            timeout=timeout,
            check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"git {' '.join(args[:2])} failed in {root}: {error}") from None
    if check and done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        raise GitError(f"git {' '.join(args[:2])} failed in {root}: {why}")
    return done


@dataclass(frozen=True)
class DangerousKey:
    """A key of the repository's own config that would make git run a program."""

    key: str
    value: str
    origin: str
    why: str


class GitConfigRefused(GitRefused):
    """The repository's own git config would make host git run a program."""

    def __init__(self, root: Path, found: list[DangerousKey]) -> None:
        self.found = found
        first = found[0]
        more = f" (and {len(found) - 1} more: " + ", ".join(k.key for k in found[1:]) + ")"
        text = (
            f"{root}: the repository's git config sets {first.key} = {first.value!r} "
            f"in {first.origin} ({first.why}); harness runs git on the host and refuses a "
            f"repository whose own config would run a program"
            f"{more if len(found) > 1 else ''}. If you set it yourself and trust it, move it to "
            f"your global config (~/.gitconfig); otherwise remove it: "
            f"git config --file {first.origin} --unset-all {first.key}"
        )
        super().__init__(text)


def dangerous_config(root: Path, files: ConfigFiles | None = None) -> list[DangerousKey]:
    """The repository-scoped keys (local, worktree, and files they include) that would run a
    program. Reading config runs nothing.

    ``files``: the config files' bytes as the caller read them (default: read now); the
    answer is git's reading of exactly those bytes. Where they cannot be read as git would
    read them (:func:`artifacts.git_stamp.config_files` is None), git's whole config."""
    if files is None:
        files = config_files(root)
    if files is None:
        return _dangerous_in_all(root)
    found: list[DangerousKey] = []
    for path, data in files.files:
        if data is not None:
            found += _dangerous_in(root, path, data)
    if found:  # a refusal: name what the includes pull in too (git's whole reading)
        seen = {(k.key.lower(), k.value) for k in found}
        found += [k for k in _dangerous_in_all(root) if (k.key.lower(), k.value) not in seen]
    return found


def _dangerous_in(root: Path, path: Path, data: bytes) -> list[DangerousKey]:
    """The dangerous keys of one config file's bytes, as git parses them (includes not
    followed: ``include.path`` is itself refused)."""
    # No repository (GIT_DIR=/dev/null): the project's own config, which git would read to
    # set up (and die on, when it cannot parse it), plays no part.
    done = run_git_unchecked(
        root,
        *("config", "--file", "-", "--no-includes", "--list", "-z"),
        input=data,
        env={"GIT_DIR": "/dev/null"},
        check=False,
    )
    why = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0 and "in standard input" not in why:
        raise GitError(f"git config could not read {path}: {why.strip() or done.returncode}")
    # A config git cannot parse ("bad config line 3 in standard input") stops every git
    # command before it runs anything; the keys before the bad line are still judged.
    entries = done.stdout.decode("utf-8", "replace").split("\0")[:-1]  # -z: "key\nvalue\0"
    return _judged(root, [(str(path), entry) for entry in entries])


def _dangerous_in_all(root: Path) -> list[DangerousKey]:
    """The dangerous keys of every repository-scoped config git reads at ``root``."""
    done = run_git_unchecked(
        root, "config", "--list", "--show-scope", "--show-origin", "--includes", "-z", check=False
    )
    if done.returncode != 0:
        return []  # no config at all (or no repository): nothing of the project's to run
    fields = done.stdout.decode("utf-8", "replace").split("\0")
    # -z: records of "scope\0origin\0key\nvalue\0"
    return _judged(
        root,
        [
            (fields[index + 1].removeprefix("file:"), fields[index + 2])
            for index in range(0, len(fields) - 2, 3)
            if fields[index] in ("local", "worktree")
        ],
    )


def _judged(root: Path, entries: list[tuple[str, str]]) -> list[DangerousKey]:
    """The entries (origin, "key\nvalue") whose key would make git run a program."""
    found: list[DangerousKey] = []
    for origin, entry in entries:
        key, _, value = entry.partition("\n")
        lowered = key.lower()
        for pattern, why in _REFUSED:
            if not pattern.match(lowered):
                continue
            if lowered in _FIXED | {"core.fsmonitor"} and value.strip().lower() in _HARMLESS_VALUES:
                break  # a boolean or empty value runs nothing (and is overridden anyway)
            path = Path(origin)
            found.append(
                DangerousKey(key, value, str(path if path.is_absolute() else root / path), why)
            )
            break
    return found


_T = TypeVar("_T")
_K = TypeVar("_K")
_V = TypeVar("_V")
REMEMBERED = 256  # entries each table of ConfigChecks holds; then it starts over
KEPT_BYTES = 1 << 20
"""The largest answer :meth:`ConfigChecks.at_commit` keeps."""
KEPT_BASES = 4
"""How many bases' read-tree indexes :meth:`ConfigChecks.keep_base_index` keeps."""
KEPT_INDEX = 8 << 20
"""The largest such index kept (~80,000 paths)."""


class ConfigChecks:
    """Clean verdicts of :func:`check_config`, each kept under the digest of the config files'
    bytes it was read from (:func:`artifacts.git_stamp.config_files`).

    A value of its owner (a run, a command), passed to the git calls it covers; it holds no
    refusal, and a verdict counts only while every file holds exactly the bytes it judged.

    It also keeps each work tree's blocker sweep (:meth:`clear`), and says what the sweep
    removed to ``say`` (a run's: its events; None: on stderr); and the trees it built
    (:meth:`keep_tree`): a tree's id is a function of its base and entries, so the same
    ones again name the same tree, whatever changed on disk since; the private index
    ``git read-tree`` made of a base (:meth:`keep_base_index`); the commit HEAD
    names (:meth:`head`), under the bytes of the files it was read from; and answers kept
    under a digest of the bytes git reads them from (:meth:`by_bytes`: the user's
    identity).
    """

    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        self.say = say
        self._clean: dict[str, bytes] = {}  # root -> the digest of the bytes found clean
        self._lock = threading.Lock()
        # root -> None once swept whole, then its Sweep and the lock its git calls hold
        self._sweeps: dict[str, tuple[Sweep, threading.Lock] | None] = {}
        self._trees: dict[tuple[str, str | None, bytes], str] = {}
        self._bases: dict[tuple[str, str], bytes] = {}  # (root, base id) -> read-tree's index
        self._heads: dict[str, tuple[bytes, str | None]] = {}  # root -> (digest, commit)
        self._answers: dict[tuple[str, tuple[str, ...]], object] = {}
        self._by_bytes: dict[tuple[str, bytes], object] = {}  # (question, digest) -> answer

    def clear(self, root: Path) -> list[str]:
        """Remove what git would block on in ``root``'s work tree; their paths.

        The first time, the whole tree (:func:`clear_blockers`, what a call without a
        ``ConfigChecks`` does each time: an owner of one git command pays nothing more);
        from the second on, the tree's :class:`artifacts.git_sweep.Sweep`: one more whole
        walk and one ``git status --ignored=matching``, then the folders git ignores are
        left out while nothing that decides them changes (a ``.venv`` of 27,000 files cost
        a whole walk, ~70 ms of CPU, before every git command of a run)."""
        key = str(Path(root).absolute())
        with self._lock:
            if key not in self._sweeps:
                _remember(self._sweeps, key, None)
                kept = None
            else:
                kept = self._sweeps[key]
                if kept is None:
                    kept = self._sweeps[key] = (Sweep(Path(root)), threading.Lock())
        if kept is None:
            return clear_blockers(Path(root))
        sweep, lock = kept
        with lock:
            return sweep.clear(_sweep_git)

    def head(self, root: Path, ask: Callable[[], str | None]) -> str | None:
        """The commit HEAD names in ``root``: ``ask()`` (git's answer), kept while the
        files HEAD resolves from hold the bytes it was read from and only when those bytes
        name that same commit (:func:`artifacts.git_stamp.head_files`)."""
        key = str(Path(root).absolute())
        files = head_files(Path(root))
        with self._lock:
            kept = self._heads.get(key)
            if files is not None and kept is not None and kept[0] == files.digest:
                return kept[1]
        sha = ask()
        if files is not None and files.named == sha:
            self._keep_head(key, files.digest, sha)
        return sha

    def moved_head(self, root: Path, sha: str) -> None:
        """Harness just moved HEAD to commit ``sha`` (its ``update-ref``): kept if the files
        now name it."""
        files = head_files(Path(root))
        if files is not None and files.named == sha:
            self._keep_head(str(Path(root).absolute()), files.digest, sha)

    def _keep_head(self, key: str, digest: bytes, sha: str | None) -> None:
        with self._lock:
            _remember(self._heads, key, (digest, sha))

    def at_commit(self, root: Path, question: tuple[str, ...], ask: Callable[[], _T]) -> _T:
        """``ask()``: git's answer to ``question``, which names the object ids it is about
        (a commit's blob, a tree's listing). The same ids hold the same objects, so the
        answer is kept while no object may be read as another (:func:`plain_objects`,
        looked at before and after git's answer); bytes over :data:`KEPT_BYTES` are not."""
        if not plain_objects(Path(root)):
            return ask()
        key = (str(Path(root).absolute()), question)
        with self._lock:
            if key in self._answers:
                return cast(_T, self._answers[key])
        answer = ask()
        if isinstance(answer, bytes) and len(answer) > KEPT_BYTES:
            return answer
        if plain_objects(Path(root)):
            with self._lock:
                _remember(self._answers, key, answer)
        return answer

    def by_bytes(
        self, question: str, read: Callable[[], bytes | None], ask: Callable[[], _T]
    ) -> _T:
        """``ask()``, kept while ``read()`` (a digest of every byte git reads the answer
        from; None: not known, asked each time) is what it was before and after git's
        answer."""
        digest = read()
        if digest is None:
            return ask()
        with self._lock:
            if (question, digest) in self._by_bytes:
                return cast(_T, self._by_bytes[question, digest])
        answer = ask()
        if read() == digest:
            with self._lock:
                _remember(self._by_bytes, (question, digest), answer)
        return answer

    def tree_built(self, root: Path, base: str | None, entries: bytes) -> str | None:
        """The tree :meth:`keep_tree` kept for ``base`` and these index records in ``root``
        (never while an object may be read as another: :func:`plain_objects`)."""
        if not plain_objects(Path(root)):
            return None
        with self._lock:
            return self._trees.get(_tree_key(root, base, entries))

    def keep_tree(self, root: Path, base: str | None, entries: bytes, tree: str) -> None:
        """Keep ``tree``: what ``base`` (a commit or tree id; None: empty) became in
        ``root``'s object store with these ``update-index --index-info`` records."""
        if not plain_objects(Path(root)):
            return
        with self._lock:
            _remember(self._trees, _tree_key(root, base, entries), tree)

    def base_index(self, root: Path, base: str) -> bytes | None:
        """The index :meth:`keep_base_index` kept for commit or tree id ``base`` in ``root``
        (never while an object may be read as another: :func:`plain_objects`)."""
        if not plain_objects(Path(root)):
            return None
        with self._lock:
            return self._bases.get((str(Path(root).absolute()), base))

    def keep_base_index(self, root: Path, base: str, index: bytes) -> None:
        """Keep ``index``: the bytes of a fresh private index after ``git read-tree base``
        in ``root`` (only the last :data:`KEPT_BASES`, each at most :data:`KEPT_INDEX`
        bytes). What an id's objects hold never changes, so neither do these bytes; they
        live in this process's memory, never in a file between builds."""
        if len(index) > KEPT_INDEX or not plain_objects(Path(root)):
            return
        with self._lock:
            if len(self._bases) >= KEPT_BASES:
                del self._bases[next(iter(self._bases))]
            self._bases[str(Path(root).absolute()), base] = index

    def check(self, root: Path) -> None:
        """:func:`check_config`, skipped when the config files hold the bytes of the last
        clean verdict's."""

        key = str(Path(root).absolute())
        files = config_files(Path(root))
        with self._lock:
            if files is not None and self._clean.get(key) == files.digest:
                return
            self._clean.pop(key, None)
        found = dangerous_config(root, files)  # git's reading of exactly these bytes
        if found:
            raise GitConfigRefused(root, found)
        if files is None:
            return  # git's whole config, read as it was then: nothing to keep it under
        with self._lock:
            _remember(self._clean, key, files.digest)


def _remember(table: dict[_K, _V], key: _K, value: _V) -> None:
    """``table[key] = value``; a table holding :data:`REMEMBERED` entries starts over
    (the caller holds the lock)."""
    if len(table) >= REMEMBERED:
        table.clear()
    table[key] = value


def _tree_key(root: Path, base: str | None, entries: bytes) -> tuple[str, str | None, bytes]:
    return str(Path(root).absolute()), base, hashlib.sha256(entries).digest()


def _sweep_git(root: Path, *args: str, check: bool = True, clear: bool = False) -> str:
    """The sweep's own questions to git (``config --get``, ``status --ignored``,
    ``ls-files``), asked inside :func:`run_git` after its config check: hardened git, no
    sweep of its own (``clear``); the output as ``str`` with undecodable bytes kept as
    ``os`` keeps them in file names (so they compare with the walk's paths)."""
    del clear  # never: it is the sweep
    done = run_git_unchecked(root, *args, check=check)
    return os.fsdecode(done.stdout).strip()


def check_config(root: Path, checks: ConfigChecks | None = None) -> None:
    """Refuse (GitConfigRefused, exit 2) a repository whose own config would run a program.

    With ``checks``, skipped when the config files are exactly as they were at its last
    check that found nothing."""
    if checks is not None:
        checks.check(root)
    else:
        _refuse_dangerous(root)


def _refuse_dangerous(root: Path) -> None:
    found = dangerous_config(root)
    if found:
        raise GitConfigRefused(root, found)
