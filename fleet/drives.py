"""Many drives of one worker on a few threads: a run waiting for its model holds none.

A drive is the existing run code (``session.run``), synchronous and deep. Each drive runs
as a greenlet on one of a few *host* threads (:data:`HOSTS`: the bounded pool where a
step's blocking work runs: journal writes, git, the checkpoint, a tool). When the run asks
its model (``LitellmModel`` through the run's ``RunScope.waits``, which is this object),
the request goes to the worker's one event loop as litellm's ``acompletion`` and the
greenlet parks: its host thread goes on with another drive's step. When the answer comes,
the greenlet is handed back to its host thread (a greenlet lives on the thread it was made
on) and goes on from where it waited. Back-off sleeps between retries park the same way.

A run's command (``runners.waited``) runs on the bounded command pool while its greenlet
is parked the same way, so a long test suite holds neither its host thread nor the runs
sharing it. So a worker holds ``HOSTS`` + ``LOOP_THREADS`` + one loop thread + at most
``COMMAND_THREADS`` + DBOS's own threads, whatever the number of runs waiting (before: one
DBOS executor thread per drive, for the drive's whole life). Nothing else changes for a
run: its steps, journal, hooks and stop at a step boundary are the same code; a kill
still leaves the journal as it was (the greenlets are inside this process, like the
threads were).

A host serves what is ready in three tiers, each in order: drives starting (a run's code
up to its first step: a run taken over from a lost worker, or a new one), then other work
starting (a prepare: the clone; a publish), then parked drives going on (a model answered,
a command ended). The first two are shared: whichever host is free takes the next; a
parked drive goes on on its own host (its greenlet lives there). A worker that takes over
hundreds of runs at once so starts each on its first step before its running runs take
their next ones: in FIFO order each start waited behind every running run's steps (300
runs taken over on a loaded machine: their first new steps came up to 85 s after the loss
was detected). A tier is only as long as the starts queued, so the running runs wait at
most that long.

Rules the run code keeps for this: nothing holds a lock across a model call or a command
(the journal calls a step's work outside its lock; a run's lock held there would stop the
other runs of its host), and no run state lives in thread-locals (the greenlets of one
host share its thread). Blocking waits other than those two (harness's own git in the run
code, an outage's back-off in ``fleet.outage``) still hold the host
thread while they last; the fleet's own git (checkpoints, clones, pushes) waits parked on
its own pool (:meth:`Drives.aside`).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from contextlib import suppress
from typing import Any, TypeVar

import greenlet

T = TypeVar("T")

HOSTS = 8
"""Threads that run the drives' code. More overlap more blocking waits (git, fsync, a
command); the GIL keeps the Python part on one core whatever the number. A run taken over
holds one ~0.3-0.7 s up to its first step on a loaded machine, ~18 ms of it its own CPU
(the rest git processes and the database): with 4, 60 runs taken over at once had their
first steps up to 13.0 s after the recovery, with 8 up to 6.2 s (side by side, load 34-41)."""
LOOP_THREADS = 4
"""The model loop's executor: litellm builds each request synchronously on one of them
(``acompletion`` runs its setup in the loop's default executor) before it is awaited."""
COMMAND_THREADS = 8
"""Commands running at once (``runners.waited``: a run's command waits parked, not on its
drive thread); more wait their turn, holding no thread."""
GIT_THREADS = 8
"""The fleet's own git calls running at once (:meth:`Drives.aside`: a checkpoint's
fingerprint and archive, a clone, a push), a drive parked meanwhile. Their own pool, not
the commands': a run's test suite never makes another run's start wait for it."""

STARTING = 0
"""A run's drive starting: its code up to its first step (a journal replayed first)."""
PREPARING = 1
"""Other work starting: a run's preparation (its project cloned or restored), publication."""
GOING_ON = 2
"""A parked drive resumed: its model answered, its command ended, its back-off passed."""
_STOP = 3


Item = Callable[["_Host"], object]
"""What a host runs: given the host (a drive begun there lives there)."""


class _Shared:
    """The drives not begun yet (:data:`STARTING`, then :data:`PREPARING`), each in order:
    whichever host is free first takes the next. Before, each was given to a host when it
    was started (the one with the fewest drives) and waited for that host, while another
    was idle: a host held by a clone or a slow start kept a quarter of a takeover's runs
    waiting (100 runs taken over at load 21: their first steps 1.7 to 8.7 s after the
    recovery, while the hosts' work for them summed to 17.5 s, 4.4 s on four)."""

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.new: tuple[deque[Item], deque[Item]] = (deque(), deque())

    def put(self, item: Item, tier: int) -> None:
        with self.cond:
            self.new[tier].append(item)
            self.cond.notify_all()


class _Ready:
    """What one host has to run, served by tier (:data:`STARTING` first), each in order:
    the drives not begun yet (shared by all hosts), then its own parked drives going on
    (a greenlet lives on its host), then its stop."""

    def __init__(self, shared: _Shared) -> None:
        self._shared = shared
        self._own: tuple[deque[Item | None], deque[Item | None]] = (deque(), deque())

    def put(self, item: Item | None, tier: int) -> None:
        with self._shared.cond:
            self._own[tier - GOING_ON].append(item)
            self._shared.cond.notify_all()

    def get(self) -> Item | None:
        shared = self._shared
        with shared.cond:
            while True:
                for tier in (*shared.new, *self._own):
                    if tier:
                        return tier.popleft()
                shared.cond.wait()

    def __len__(self) -> int:
        """This host's own items waiting (its drives' wake-ups, its stop)."""
        with self._shared.cond:
            return sum(len(tier) for tier in self._own)


class _Drive(greenlet.greenlet):  # type: ignore[misc]
    """A drive's greenlet, on the host it was begun on."""

    host: _Host


class _Host:
    """One thread running drives' greenlets: whatever is ready, in order."""

    def __init__(self, name: str, shared: _Shared) -> None:
        self.ready = _Ready(shared)
        self.hub: greenlet.greenlet | None = None
        self._up = threading.Event()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self.thread.start()
        self._up.wait()

    def _serve(self) -> None:
        self.hub = greenlet.getcurrent()
        self._up.set()
        while True:
            item = self.ready.get()
            if item is None:
                return
            item(self)  # begins or resumes a drive until it parks or ends

    def park(self) -> Any:
        """From a drive of this host: give the thread to the others until resumed."""
        assert self.hub is not None
        return self.hub.switch()


class Drives:
    """The drives of one worker, and the waits of their runs (``harness.scope.Waits``)."""

    def __init__(
        self,
        hosts: int = HOSTS,
        loop_threads: int = LOOP_THREADS,
        command_threads: int = COMMAND_THREADS,
        git_threads: int = GIT_THREADS,
    ) -> None:
        self._commands = ThreadPoolExecutor(command_threads, thread_name_prefix="harness-command")
        self._git = ThreadPoolExecutor(git_threads, thread_name_prefix="harness-git")
        self.loop = asyncio.new_event_loop()
        self.loop.set_default_executor(
            ThreadPoolExecutor(loop_threads, thread_name_prefix="harness-model")
        )
        self._loop_thread = threading.Thread(
            target=self.loop.run_forever, name="harness-model-loop", daemon=True
        )
        self._loop_thread.start()
        self._shared = _Shared()
        self.hosts = [_Host(f"harness-drive-{k}", self._shared) for k in range(hosts)]

    def start(self, fn: Callable[[], T], tier: int = PREPARING) -> Future[T]:
        """Run ``fn`` as a drive on the first host free, served in ``tier`` (a run's drive:
        :data:`STARTING`; else :data:`PREPARING`); its future."""
        done: Future[T] = Future()

        def body() -> None:
            try:
                result = fn()
            except BaseException as error:  # handed to whoever awaits the drive
                with suppress(InvalidStateError):  # cancelled meanwhile: nobody awaits it
                    done.set_exception(error)
            else:
                with suppress(InvalidStateError):
                    done.set_result(result)

        def begin(host: _Host) -> None:
            drive = _Drive(body)
            drive.host = host
            drive.switch()

        self._shared.put(begin, tier)
        return done

    # -- harness.scope.Waits ------------------------------------------------------------
    def run(self, start: Callable[[], Awaitable[T]]) -> T:
        """``await start()`` on the worker's loop. A drive parks meanwhile (its host thread
        runs other drives); any other thread waits for it."""

        async def call() -> T:
            return await start()

        pending = asyncio.run_coroutine_threadsafe(call(), self.loop)
        current = greenlet.getcurrent()
        if not isinstance(current, _Drive):
            return pending.result()
        host = current.host
        pending.add_done_callback(
            lambda _: host.ready.put(lambda _host: current.switch(), GOING_ON)
        )
        host.park()
        return pending.result()

    def sleep(self, seconds: float) -> None:
        """A back-off: a drive parks, another thread sleeps."""
        if seconds > 0:
            self.run(lambda: asyncio.sleep(seconds))

    def offload(self, work: Callable[[], T]) -> T:
        """A command: on the command pool, a drive parked meanwhile; any other thread
        runs it itself."""
        if not isinstance(greenlet.getcurrent(), _Drive):
            return work()
        return self.run(lambda: self.loop.run_in_executor(self._commands, work))

    def aside(self, work: Callable[[], T]) -> T:
        """The fleet's own git work (``work`` runs git processes and reads files; it holds
        no lock and no transaction, so another drive of this host may run meanwhile): on
        the git pool, a drive parked meanwhile; any other thread runs it itself. A start
        held its drive thread ~0.3 s on a loaded machine for ~19 ms of its own CPU, the
        rest waiting on git processes, while other runs waited for that thread."""
        if not isinstance(greenlet.getcurrent(), _Drive):
            return work()
        return self.run(lambda: self.loop.run_in_executor(self._git, work))

    def close(self) -> None:
        """Stop the hosts (their drives have ended), the loop and the command pool."""
        for host in self.hosts:
            host.ready.put(None, _STOP)
        for host in self.hosts:
            host.thread.join(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._loop_thread.join(timeout=10)
        self._commands.shutdown(wait=False)
        self._git.shutdown(wait=False)
