"""Files a human attaches to an answer, copied into ``<project>/human_inputs/<question id>/``.

Plain files are copied under their base name; a ``.zip`` is unpacked into a folder of the
same stem, refusing absolute paths, ``..``, links, too many members and too many bytes.
Everything lands in a staging folder first; the store renames it into place inside the
transaction that records the answer, so a losing answerer never touches the winner's files.
"""

from __future__ import annotations

import shutil
import stat
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from harness.errors import ExitCode, HarnessError

INPUTS_DIR = "human_inputs"
MAX_FILE_BYTES = 50_000_000
MAX_TOTAL_BYTES = 200_000_000
MAX_MEMBERS = 2000


class InputFileError(HarnessError):
    """An attached file cannot be taken: missing, too big, or an unsafe archive."""

    exit_code = ExitCode.INVALID


class StagedFiles:
    """Attached files copied into a hidden staging folder, not yet in place."""

    def __init__(self, project_root: Path, question_id: str, staging: Path | None) -> None:
        self.project_root = project_root
        self.final = project_root / INPUTS_DIR / question_id
        self.staging = staging
        self.placed = False
        self.paths: list[str] = []
        if staging is not None:
            self.paths = sorted(
                (self.final / p.relative_to(staging)).relative_to(project_root).as_posix()
                for p in staging.rglob("*")
                if p.is_file()
            )

    def place(self) -> None:
        """Rename the staging folder to ``human_inputs/<question id>/``."""
        if self.staging is None:
            return
        if self.final.exists():  # left by an answer that crashed before it was recorded
            shutil.rmtree(self.final)
        self.staging.rename(self.final)
        self.placed = True

    def discard(self) -> None:
        """Remove whatever this staging put anywhere."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            if self.placed:
                shutil.rmtree(self.final, ignore_errors=True)


def stage_files(project_root: Path, question_id: str, sources: Sequence[Path]) -> StagedFiles:
    """Copy ``sources`` into a staging folder under ``human_inputs/``.

    Raises:
        InputFileError: a source is missing or a directory, names collide, a size limit is
            passed, or a zip member would land outside its folder.
    """
    if not sources:
        return StagedFiles(project_root, question_id, None)
    base = project_root / INPUTS_DIR
    base.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{question_id}-", dir=base))
    try:
        total = 0
        for source in sources:
            total += _take(Path(source), staging, total)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return StagedFiles(project_root, question_id, staging)


def _take(source: Path, staging: Path, total: int) -> int:
    if not source.is_file():
        raise InputFileError(f"{source}: no such file (attach files, not folders)")
    size = source.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputFileError(f"{source}: {size} bytes, over the {MAX_FILE_BYTES} byte limit")
    if zipfile.is_zipfile(source) and source.suffix.lower() == ".zip":
        return _unzip(source, staging / source.stem, total)
    target = staging / source.name
    if target.exists():
        raise InputFileError(f"{source}: two attached files are named {source.name!r}")
    _check_total(source, total + size)
    shutil.copyfile(source, target)
    return size


def _unzip(source: Path, folder: Path, total: int) -> int:
    if folder.exists():
        raise InputFileError(f"{source}: two attachments unpack to {folder.name!r}")
    added = 0
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise InputFileError(f"{source}: {len(members)} members, over {MAX_MEMBERS}")
        for member in members:
            name = PurePosixPath(member.filename.replace("\\", "/"))
            mode = member.external_attr >> 16
            if name.is_absolute() or ".." in name.parts or (name.parts and ":" in name.parts[0]):
                raise InputFileError(
                    f"{source}: member {member.filename!r} would land outside its folder; "
                    "the archive was refused"
                )
            if stat.S_ISLNK(mode):
                raise InputFileError(f"{source}: member {member.filename!r} is a link; refused")
            if member.is_dir():
                continue
            if member.file_size > MAX_FILE_BYTES:
                raise InputFileError(f"{source}: member {member.filename!r} is too big")
            added += member.file_size
            _check_total(source, total + added)
            target = folder.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as reader, target.open("wb") as writer:
                # Copy with a hard stop: the declared size in a zip header can lie.
                copied = 0
                while chunk := reader.read(1 << 20):
                    copied += len(chunk)
                    if copied > member.file_size or copied > MAX_FILE_BYTES:
                        raise InputFileError(
                            f"{source}: member {member.filename!r} lies about its size; refused"
                        )
                    writer.write(chunk)
    folder.mkdir(parents=True, exist_ok=True)
    return added


def _check_total(source: Path, total: int) -> None:
    if total > MAX_TOTAL_BYTES:
        raise InputFileError(
            f"{source}: the attachments pass the {MAX_TOTAL_BYTES} byte limit in total"
        )
