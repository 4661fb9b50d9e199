"""The initializer's guarded tools: the feature list (all failing) and init.sh."""

from __future__ import annotations

import os
from pathlib import PurePosixPath

from pydantic import BaseModel, Field

from artifacts.feature_list import FEATURE_LIST, load_feature_list, save_feature_list
from artifacts.io import atomic_write
from artifacts.models import Feature, FeatureList
from harness.tools import Tool, ToolResult
from session.context import WorkContext
from session.effects import FeaturesWritten, Result
from session.paths import PathRefused, confine
from session.tools.files import FILE_TOOLS

READ_ONLY = {"read_file", "list_files", "grep"}


class FeatureDraft(BaseModel):
    category: str = Field(min_length=1, description='e.g. "functional", "cli", "error handling"')
    description: str = Field(min_length=1, description="what the feature does, for a user")
    steps: list[str] = Field(description="steps a tester follows to verify it")
    check: str | None = Field(
        None, description="shell command whose exit 0 verifies it, e.g. a pytest invocation"
    )


class FeatureListArgs(BaseModel):
    features: list[FeatureDraft] = Field(
        min_length=1, description="every feature, highest priority first"
    )


class AcceptanceArgs(BaseModel):
    path: str = Field(description="file path inside tests/acceptance/, e.g. test_cli.py")
    content: str = Field(min_length=1, description="the whole test file")


class InitShArgs(BaseModel):
    content: str = Field(
        min_length=1, description="bash script: bring the environment up, run a smoke test"
    )


def write_feature_list(ctx: WorkContext, args: FeatureListArgs) -> Result:

    new = FeatureList(
        features=[
            Feature(
                id=f"F{index:03d}",
                category=draft.category,
                description=draft.description,
                steps=draft.steps,
                priority=index,
                check=draft.check,
            )
            for index, draft in enumerate(args.features, start=1)
        ]
    )
    if (ctx.root / FEATURE_LIST).exists() and load_feature_list(ctx.root) == new:
        return ToolResult(output=f"{FEATURE_LIST} already holds these {len(new.features)} features")
    save_feature_list(ctx.root, new)  # the guards refuse a rewrite of an existing list
    with_check = sum(1 for f in new.features if f.check)
    return ToolResult(
        output=f"wrote {FEATURE_LIST}: {len(new.features)} features, all failing, "
        f"{with_check} with an automated check",
        effects=[FeaturesWritten(count=len(new.features))],
    )


def write_init_sh(ctx: WorkContext, args: InitShArgs) -> Result:

    path = ctx.root / "init.sh"
    content = args.content if args.content.endswith("\n") else args.content + "\n"
    atomic_write(path, content, root=ctx.root)
    os.chmod(path, 0o755)
    return ToolResult(output=f"wrote init.sh ({len(content)} chars, executable)")


ACCEPTANCE_DIR = "tests/acceptance"


def write_acceptance_test(ctx: WorkContext, args: AcceptanceArgs) -> Result:
    """A test under tests/acceptance/, which the harness then protects ([protect] paths):
    the coding agent's tools, commands and commits cannot change it."""

    relative = PurePosixPath(args.path.removeprefix(ACCEPTANCE_DIR + "/"))
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        return ToolResult.error(f"{args.path!r}: give a path inside {ACCEPTANCE_DIR}/")

    shown = f"{ACCEPTANCE_DIR}/{relative.as_posix()}"
    try:
        target = confine(ctx.root, shown, write=True)  # no symlink out of the project
    except PathRefused as error:
        return ToolResult.error(str(error))
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, args.content, root=ctx.root)
    return ToolResult(
        output=f"wrote {shown}; {ACCEPTANCE_DIR}/ will be protected from the coding agent"
    )


INIT_TOOLS: list[Tool[WorkContext]] = [
    *(tool for tool in FILE_TOOLS if tool.name in READ_ONLY),
    Tool(
        "write_feature_list",
        "Write feature_list.json: the definition of done, every feature failing.",
        FeatureListArgs,
        write_feature_list,
    ),
    Tool("write_init_sh", "Write init.sh.", InitShArgs, write_init_sh),
    Tool(
        "write_acceptance_test",
        "Write an acceptance test under tests/acceptance/ (protected from the coding agent).",
        AcceptanceArgs,
        write_acceptance_test,
    ),
]
