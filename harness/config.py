"""The one precedence chain of configuration, read in one place.

defaults < the user's config (``~/.config/harness/config.toml``, under
``$XDG_CONFIG_HOME``) < ``<root>/harness.toml`` < ``HARNESS_<SECTION>_<FIELD>``
environment < flags (``--model``, ``-c section.key=value``: ``{"model.name": "..."}``).
:func:`resolve_config` also says where each effective value came from (``default``,
``user``, ``file``, ``env:HARNESS_...`` or ``flag``).

Environment values and ``--set`` values are parsed as TOML scalars (``60``, ``true``,
``1.5``, ``["a", "b"]``) where the field is not a string; ``none`` (or an empty value)
unsets a field that may be unset. A ``HARNESS_<known section>_*`` variable naming no field
is an error; other ``HARNESS_*`` variables are not configuration and are ignored.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from artifacts.config import HarnessConfig
    from harness.events import Events
    from harness.journal.location import Location
    from harness.scope import ModelMaker, RunScope, StepHooks

PREFIX = "HARNESS_"
PROJECT_FILE = "harness.toml"  # artifacts.config.HARNESS_TOML, named without importing it
Key = tuple[str, ...]


@dataclass
class ResolvedConfig:
    """The effective config and, for each key (``"model.name"``), where its value came from."""

    config: HarnessConfig
    sources: dict[str, str] = field(default_factory=dict)


def load_config(
    root: Path,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> HarnessConfig:
    """The effective config of the project at ``root`` (ConfigError on any bad layer)."""
    return resolve_config(root, env=env, overrides=overrides).config


def run_scope(
    config: HarnessConfig,
    environ: Mapping[str, str] | None = None,
    *,
    events: Events | None = None,
    hooks: StepHooks | None = None,
    models: ModelMaker | None = None,
) -> RunScope:
    """The scope of one run of ``config`` over ``environ`` (default: ``os.environ`` now):
    its secrets are the secret-named variables and the ones ``[model] api_key_env`` and
    ``[escalation] embedding_api_key_env`` name, whatever their names."""
    from harness.scope import RunScope

    names = [config.model.api_key_env, config.escalation.embedding_api_key_env]
    return RunScope.of(environ, secret_names=names, events=events, hooks=hooks, models=models)


def journal_location(root: Path, config: HarnessConfig | None = None) -> Location:
    """Where the project's journal is: ``[journal] url`` (``HARNESS_JOURNAL_URL``), else
    SQLite under ``<root>/.harness``. Read through the one precedence chain, built only
    when a layer may name a URL (the readers, `log` and `status`, then start fast)."""
    from harness.journal.location import Location

    if config is None and not _may_name_journal_url(root):
        return Location(root / ".harness", project=str(root))
    if config is None:
        config = resolve_config(root).config
    return Location(root / ".harness", url=config.journal.url, project=str(root))


def run_journal(root: Path, config: HarnessConfig, scope: RunScope) -> Location:
    """Where a run's journal is: the one its scope names (a fleet's), else the config's."""
    from harness.journal.location import Location

    if isinstance(scope.journal, Location):
        return scope.journal
    where = journal_location(root, config)
    if where.keys is None:  # the key files of the run's state home, not the process's
        from harness.journal.keys import KeyFiles, state_home

        where = replace(where, keys=KeyFiles(state_home(scope.environ)))
    return where


def _may_name_journal_url(root: Path, env: Mapping[str, str] | None = None) -> bool:
    """Whether a layer of the chain may set ``[journal] url``: the environment's variable,
    or ``url`` anywhere in the user's or the project's file (a look, not a parse: when in
    doubt the whole chain is read, with its checks)."""
    env = os.environ if env is None else env
    if "HARNESS_JOURNAL_URL" in env:
        return True
    for path in (user_config_path(env), root / PROJECT_FILE):
        try:
            if "url" in path.read_text(encoding="utf-8", errors="replace"):
                return True
        except FileNotFoundError:
            continue
        except OSError:
            return True  # unreadable: the chain says why
    return False


def resolve_config(
    root: Path,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> ResolvedConfig:
    """Merge the layers; return the config and the source of every value."""
    from pydantic import ValidationError

    from artifacts.config import HARNESS_TOML, HarnessConfig, load_config_file, validation_error

    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    origin: dict[Key, str] = {}
    user = user_config_path(env)
    for path, label in ((user, "user"), (root / HARNESS_TOML, "file")):
        if path.exists() or path.is_symlink():
            loaded = load_config_file(path, root=path.parent if label == "user" else root)
            for key, value in _flatten(loaded.model_dump(exclude_unset=True)):
                _put(merged, key, value)
                origin[key] = label
    for name in sorted(env):
        found = env_key(name)
        if found is not None:
            _put(merged, found, parse_value(env[name], found))
            origin[found] = f"env:{name}"
    for dotted, value in (overrides or {}).items():
        key = flag_key(dotted)
        _put(merged, key, parse_value(value, key) if isinstance(value, str) else value)
        origin[key] = "flag"
    try:
        config = HarnessConfig.model_validate(merged)
    except ValidationError as error:
        item_loc = tuple(str(p) for p in error.errors()[0]["loc"])
        raise validation_error(error, _blame(item_loc, origin)) from None
    sources = {".".join(key): origin.get(key, "default") for key in leaf_keys()}
    return ResolvedConfig(config, sources)


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """The user-level config: ``$XDG_CONFIG_HOME/harness/config.toml`` (default
    ``~/.config/harness/config.toml``); the layer under the project's harness.toml."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "harness" / "config.toml"


def leaf_keys(model: type[BaseModel] | None = None, prefix: Key = ()) -> list[Key]:
    """Every settable key of the config (of ``model``: a section), in declaration order."""
    if model is None:
        from artifacts.config import HarnessConfig

        model = HarnessConfig
    keys: list[Key] = []
    for name, info in model.model_fields.items():
        sub = _submodel(info.annotation)
        if sub is not None:
            keys.extend(leaf_keys(sub, (*prefix, name)))
        else:
            keys.append((*prefix, name))
    return keys


def env_key(name: str) -> Key | None:
    """``HARNESS_MODEL_NAME`` -> ``("model", "name")``; None for a non-config variable."""
    if not name.startswith(PREFIX):
        return None
    rest = name[len(PREFIX) :]
    from artifacts.config import HarnessConfig

    for section, info in HarnessConfig.model_fields.items():
        if rest.startswith(section.upper() + "_"):
            sub = _submodel(info.annotation)
            assert sub is not None
            found = _match(sub, rest[len(section) + 1 :])
            if found is None:
                raise ConfigError(
                    f"environment variable {name}",
                    f"[{section}]",
                    f"[{section}] has no such key",
                    f"Unset it; the keys of [{section}] are {_names(sub, section)}.",
                )
            return (section, *found)
    return None


def flag_key(dotted: str) -> Key:
    """``"model.name"`` -> ``("model", "name")``; ConfigError for an unknown key."""
    key = tuple(dotted.split("."))
    if key not in set(leaf_keys()):
        raise ConfigError(
            f"flag {dotted}",
            _where(key),
            "no such key",
            "Use section.key as `harness config --sources` lists them (e.g. model.name).",
        )
    return key


def parse_value(text: str, key: Key) -> object:
    """An environment or ``--set`` value: a TOML scalar unless the field is a string."""
    annotation = _annotation(key)
    args = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    optional = type(None) in args
    if optional and text.strip().lower() in ("", "none"):
        return None
    if any(_takes_str(arg) for arg in args):
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # validation says what is wrong with it


def _match(model: type[BaseModel], rest: str) -> Key | None:
    for name, info in model.model_fields.items():
        upper = name.upper()
        sub = _submodel(info.annotation)
        if sub is None and rest == upper:
            return (name,)
        if sub is not None and rest.startswith(upper + "_"):
            found = _match(sub, rest[len(upper) + 1 :])
            if found is not None:
                return (name, *found)
    return None


def _names(model: type[BaseModel], section: str) -> str:
    names = [PREFIX + "_".join((section, *key)).upper() for key in leaf_keys(model)]
    return ", ".join(names)


def _annotation(key: Key) -> Any:
    from artifacts.config import HarnessConfig

    model: type[BaseModel] = HarnessConfig
    annotation: Any = None
    for part in key:
        annotation = model.model_fields[part].annotation
        sub = _submodel(annotation)
        if sub is not None:
            model = sub
    return annotation


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _takes_str(annotation: Any) -> bool:
    if annotation is str:
        return True
    if typing.get_origin(annotation) is typing.Literal:
        return all(isinstance(arg, str) for arg in typing.get_args(annotation))
    return False


def _where(key: Key) -> str:
    from artifacts.config import where

    return where(key)


def _submodel(annotation: Any) -> type[BaseModel] | None:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _flatten(data: Mapping[str, Any], prefix: Key = ()) -> list[tuple[Key, Any]]:
    items: list[tuple[Key, Any]] = []
    for name, value in data.items():
        if isinstance(value, dict):
            items.extend(_flatten(value, (*prefix, name)))
        else:
            items.append(((*prefix, name), value))
    return items


def _put(target: dict[str, Any], key: Key, value: object) -> None:
    for part in key[:-1]:
        target = target.setdefault(part, {})
    target[key[-1]] = value


def _blame(loc: Key, origin: Mapping[Key, str]) -> str:
    """The layer to name for an error at ``loc``: the highest layer that set a key there."""
    best, label = 0, PROJECT_FILE
    for key, source in origin.items():
        if key[: len(loc)] != loc and loc[: len(key)] != key:
            continue
        if source == "flag":
            rank, text = 4, f"flag {'.'.join(key)}"
        elif source.startswith("env:"):
            rank, text = 3, f"environment variable {source[4:]}"
        elif source == "file":
            rank, text = 2, PROJECT_FILE
        else:
            rank, text = 1, str(user_config_path())
        if rank > best:
            best, label = rank, text
    return label
