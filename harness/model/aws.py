"""AWS credentials found the way the AWS SDK finds them, but in a run's environment.

litellm, given no AWS keys, asks boto3, which reads the *process's* environment: its
``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, the credential files under its ``HOME`` and its
container-credentials variables. Two runs in one process (a fleet worker, the TUI) may use
two AWS accounts, so harness resolves them itself, with botocore, from the run's own
environment (``RunScope.environ``) and hands litellm the keys: the profile the run names
(``AWS_PROFILE``; static keys, assumed roles, SSO and ``credential_process`` profiles alike)
in the run's files (``AWS_SHARED_CREDENTIALS_FILE``, ``AWS_CONFIG_FILE``, else under the
run's ``HOME``), an ECS/EKS container's credentials named by the run's variables, or the
machine's instance role. The instance role is the one source that is not the run's: it
belongs to the machine (its metadata service), and every run on it shares it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from harness.errors import ModelFatal

_ENV = (
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
)


def files(environ: Mapping[str, str]) -> tuple[str, str]:
    """The run's shared credentials and config files (the SDK's defaults, under the run's
    HOME; none, an empty file, when the run sets neither them nor a HOME)."""
    home = environ.get("HOME")
    aws = os.path.join(home, ".aws") if home else None
    return (
        environ.get("AWS_SHARED_CREDENTIALS_FILE")
        or (os.path.join(aws, "credentials") if aws else os.devnull),
        environ.get("AWS_CONFIG_FILE") or (os.path.join(aws, "config") if aws else os.devnull),
    )


def _stamp(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def from_sdk_chain(environ: Mapping[str, str]) -> dict[str, str]:
    """litellm's AWS arguments (keys, token, region) resolved in ``environ``; ModelFatal
    naming the profile and files when the profile the run names has no credentials."""
    profile = environ.get("AWS_PROFILE_NAME") or environ.get("AWS_PROFILE")
    creds_file, config_file = files(environ)
    env = tuple((name, environ.get(name, "")) for name in _ENV)
    try:
        import botocore  # noqa: F401, PLC0415  (litellm's Bedrock needs boto3 too)
    except ImportError:
        return {}  # litellm says boto3 is missing
    credentials, region = _resolved(profile, creds_file, _stamp(creds_file), config_file,
                                    _stamp(config_file), env)  # fmt: skip
    if credentials is None:
        if profile is None:
            return {}  # nothing the run names: litellm says what is missing
        raise ModelFatal(
            f"the run names AWS profile {profile!r}, but no credentials were found for it in "
            f"{creds_file} or {config_file} (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, "
            "else under HOME): add the profile there, or set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY for the run"
        )
    frozen = credentials.get_frozen_credentials()  # refreshed when it expires
    args = {"aws_access_key_id": frozen.access_key, "aws_secret_access_key": frozen.secret_key}
    if frozen.token:
        args["aws_session_token"] = frozen.token
    if region:
        args["aws_region_name"] = region
    return args


@lru_cache(maxsize=16)
def _resolved(
    profile: str | None,
    creds_file: str,
    _creds_stamp: int,
    config_file: str,
    _config_stamp: int,
    environ: tuple[tuple[str, str], ...],
) -> tuple[Any, str | None]:
    """botocore's credentials (refreshable) and the profile's region, every setting given
    explicitly. A profile (the run's, else ``default`` when the run's files have one) is
    set on the session, which turns off botocore's look-up of the process's AWS_* key
    variables; without one, only the run's container variables and the instance role are
    asked. Cached by the inputs and the files' times."""
    import botocore.session  # noqa: PLC0415  (boto3's core: imported by AWS runs only)
    from botocore.credentials import (  # noqa: PLC0415
        ContainerProvider,
        CredentialResolver,
        InstanceMetadataFetcher,
        InstanceMetadataProvider,
    )

    env = {k: v for k, v in environ if v}
    session = botocore.session.Session()
    session.set_config_variable("credentials_file", creds_file)
    session.set_config_variable("config_file", config_file)
    try:
        if profile is None and "default" in session.full_config.get("profiles", {}):
            profile = "default"
        machine = [
            ContainerProvider(environ=env),
            InstanceMetadataProvider(
                iam_role_fetcher=InstanceMetadataFetcher(timeout=1, num_attempts=1, env=env)
            ),
        ]
        if profile is None:
            return CredentialResolver(machine).load_credentials(), None
        session.set_config_variable("profile", profile)
        resolver = session.get_component("credential_provider")
        resolver.remove("container-role")
        resolver.remove("iam-role")
        for provider in machine:
            resolver.providers.append(provider)
        return session.get_credentials(), session.get_config_variable("region")
    except Exception as error:  # botocore's ProfileNotFound, a bad file, an SSO expiry...
        raise ModelFatal(f"AWS credentials for profile {profile!r} ({creds_file}, "
                         f"{config_file}): {error}") from error  # fmt: skip
