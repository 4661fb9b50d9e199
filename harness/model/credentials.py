"""A provider's credentials from a run's environment, passed to litellm explicitly.

litellm reads a provider's credentials from the process environment when it is not given
them. Two runs in one process (a fleet worker, the TUI) may use two accounts, so every
variable a provider reads is looked up in the run's own environment (``RunScope.environ``)
and handed to litellm as the call's argument: the key of single-key providers, and the
several variables of AWS (Bedrock, SageMaker), Google Vertex AI and Azure AD. AWS keys the
run does not set are found by the AWS SDK's rules in the run's profile files and variables
(``aws.py``); Google's application-default credentials in the run's gcloud folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from harness.model.aws import from_sdk_chain

# The variable each provider reads its key from, when litellm cannot tell us.
KEY_ENV = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "azure": "AZURE_API_KEY",
    "cohere": "COHERE_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "xai": "XAI_API_KEY",
}

_AWS = (
    ("aws_access_key_id", ("AWS_ACCESS_KEY_ID",)),
    ("aws_secret_access_key", ("AWS_SECRET_ACCESS_KEY",)),
    ("aws_session_token", ("AWS_SESSION_TOKEN",)),
    ("aws_region_name", ("AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION")),
    # the variables litellm itself reads from the process when not given them
    ("aws_role_name", ("AWS_ROLE_NAME",)),
    ("aws_session_name", ("AWS_SESSION_NAME",)),
    ("aws_web_identity_token", ("AWS_WEB_IDENTITY_TOKEN",)),
    ("aws_sts_endpoint", ("AWS_STS_ENDPOINT",)),
    ("aws_external_id", ("AWS_EXTERNAL_ID",)),
    ("aws_bedrock_runtime_endpoint", ("AWS_BEDROCK_RUNTIME_ENDPOINT",)),
)
_VERTEX = (
    ("vertex_project", ("VERTEXAI_PROJECT",)),
    ("vertex_location", ("VERTEXAI_LOCATION",)),
    # a JSON text or the path of a service account's key file (litellm reads either)
    ("vertex_credentials", ("VERTEXAI_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS")),
)
_AZURE = (
    ("azure_ad_token", ("AZURE_AD_TOKEN",)),
    ("tenant_id", ("AZURE_TENANT_ID",)),
    ("client_id", ("AZURE_CLIENT_ID",)),
    ("client_secret", ("AZURE_CLIENT_SECRET",)),
    ("azure_username", ("AZURE_USERNAME",)),
    ("azure_password", ("AZURE_PASSWORD",)),
    ("api_version", ("AZURE_API_VERSION",)),
)
# litellm's argument for each credential, and the variables it reads it from (first set wins)
SEVERAL: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "bedrock": _AWS,
    "sagemaker": _AWS,
    "vertex_ai": _VERTEX,
    "vertex_ai_beta": _VERTEX,
    "azure": _AZURE,
    "azure_ai": _AZURE,
}


def credentials(
    provider: str, environ: Mapping[str, str], api_key_env: str | None = None
) -> dict[str, str]:
    """litellm's arguments for ``provider`` from ``environ``: ``api_key`` (from
    ``api_key_env``, else the provider's usual variable) and the several credentials of
    AWS, Vertex AI and Azure AD that the environment sets."""
    found: dict[str, str] = {}
    key_env = api_key_env or KEY_ENV.get(provider)
    if key_env and environ.get(key_env):
        found["api_key"] = environ[key_env]
    several = SEVERAL.get(provider, ())
    for argument, variables in several:
        for variable in variables:
            if environ.get(variable):
                found[argument] = environ[variable]
                break
    if several is _AWS and "aws_access_key_id" not in found:
        # a profile, a container's or the instance's role: found in the run's files and
        # variables (aws.py), not by boto3 in the process's
        found = {**from_sdk_chain(environ), **found}
    if several is _VERTEX and "vertex_credentials" not in found:
        adc = application_default(environ)
        if adc is not None:
            found["vertex_credentials"] = adc
    return found


def application_default(environ: Mapping[str, str]) -> str | None:
    """The file `gcloud auth application-default login` wrote for the run's user (under the
    run's CLOUDSDK_CONFIG, else its HOME), which Google's SDK would otherwise look up under
    the process's. Without one, the SDK asks the machine's metadata server (a VM's service
    account: the machine's, shared by every run on it)."""
    folder = environ.get("CLOUDSDK_CONFIG") or (
        os.path.join(environ["HOME"], ".config", "gcloud") if environ.get("HOME") else None
    )
    if folder is None:
        return None
    path = os.path.join(folder, "application_default_credentials.json")
    return path if os.path.isfile(path) else None
