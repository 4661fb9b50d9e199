"""A known secret is found in its reversible encodings, at every base64 alignment, wrapped
or embedded in a longer blob; ordinary blobs, hashes and lock files are left alone."""

from __future__ import annotations

import base64
import hashlib
import json
import textwrap
import uuid
from urllib.parse import quote, quote_plus

import pytest

from harness.journal.codec import encode
from harness.redact import Redactor
from harness.secret_forms import MIN_CORE, forms
from session.secrets import SecretScanner

KEY = "sk-proj-Hq7Lm2Xv9Rt4Wb8Nc1Zd6Pf3Kg5Js0Ya"  # 40 characters
PASSWORD = "p@ss/w0rd+key=very secret!"  # percent-encoding differs from it
LONG = "sk-ant-api03-" + "Zq8Wx7Ec6Rv5Tb4Yn3Um2Ik1Ol0Pa9Sd8Fg7Hj6Kl5Zx4Cv3Bn2Mq1We0" * 3
URL = "url-safe-Q9w8E7r6T5y4U3i2O1p0???>>>"  # its base64 has "/" and "+": "_" and "-"
ENV = {"OPENAI_API_KEY": KEY, "DB_PASSWORD": PASSWORD, "ANTHROPIC_API_KEY": LONG, "URL_TOKEN": URL}


def secret_chunks(encoded: str, start: int, end: int, size: int = 8) -> list[str]:
    """Every ``size``-character chunk of ``encoded[start:end]``, the part that is the secret."""
    part = encoded[start:end]
    return [part[i : i + size] for i in range(0, len(part) - size + 1)]


def assert_hidden(out: str, chunks: list[str]) -> None:
    for chunk in chunks:
        assert chunk not in out.replace("\n", ""), f"{chunk!r} of the secret is still there"


@pytest.mark.parametrize("alphabet", ["standard", "urlsafe"])
@pytest.mark.parametrize("prefix", ["", "t", "to", "tok", "token=", "tokens=x"])
@pytest.mark.parametrize("padded", [True, False])
def test_base64_at_every_alignment_inside_a_longer_blob(
    alphabet: str, prefix: str, padded: bool
) -> None:
    encoder = base64.b64encode if alphabet == "standard" else base64.urlsafe_b64encode
    blob = encoder(f"{prefix}{KEY}\nmore text after it".encode()).decode()
    if not padded:
        blob = blob.rstrip("=")
    out = Redactor(ENV).text(f"output: {blob} done")
    assert "[REDACTED:OPENAI_API_KEY (base64" in out  # (base64) or (base64url)
    first = -(-8 * len(prefix) // 6)
    assert_hidden(out, secret_chunks(blob, first, 8 * (len(prefix) + len(KEY)) // 6))
    assert out.startswith("output: ") and out.endswith(" done")
    assert blob[-8:] in out  # what follows the secret is kept


@pytest.mark.parametrize("value", [KEY, LONG])
def test_the_value_alone_with_padding_and_wrapped_at_76(value: str) -> None:
    blob = base64.encodebytes(value.encode()).decode()  # what `base64` prints, wrapped
    assert blob.count("\n") == (1 if value == KEY else 4) and blob.rstrip().endswith("=")
    name = "OPENAI_API_KEY" if value == KEY else "ANTHROPIC_API_KEY"
    # The whole block goes, its line breaks and padding with it.
    assert Redactor(ENV).text(blob) == f"[REDACTED:{name} (base64)]\n"


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("prefix", ["", "x", "token="])
def test_hex_as_xxd_p_prints_it_wrapped_at_60(upper: bool, prefix: str) -> None:
    hexed = f"{prefix}{LONG}\n".encode().hex()
    hexed = hexed.upper() if upper else hexed
    out = Redactor(ENV).text("\n".join(textwrap.wrap(hexed, 60)) + "\n")
    assert "[REDACTED:ANTHROPIC_API_KEY (hex)]" in out
    assert_hidden(out, secret_chunks(hexed, 2 * len(prefix), 2 * (len(prefix) + len(LONG))))


def test_hex_of_a_short_key_wrapped_anywhere_is_found() -> None:
    hexed = KEY.encode().hex()  # 80 characters
    for cut in range(1, len(hexed)):
        out = Redactor(ENV).text(f"{hexed[:cut]}\n{hexed[cut:]}")
        assert out == "[REDACTED:OPENAI_API_KEY (hex)]", cut


@pytest.mark.parametrize(
    "encoded",
    [
        quote(PASSWORD, safe=""),
        quote(PASSWORD),  # "/" kept
        quote_plus(PASSWORD),  # spaces as "+"
        quote(PASSWORD, safe="!~*'()"),  # JavaScript's encodeURIComponent
    ],
)
def test_percent_encoded_and_reversed(encoded: str) -> None:
    redactor = Redactor(ENV)
    out = redactor.text(f"url: https://db/?p={encoded}&x=1 rev: {KEY[::-1]}")
    assert out == (
        "url: https://db/?p=[REDACTED:DB_PASSWORD (percent-encoded)]&x=1 "
        "rev: [REDACTED:OPENAI_API_KEY (reversed)]"
    )
    kinds = {f.kind for f in forms({"T_TOKEN": KEY})}
    assert "percent-encoded" not in kinds  # quote() leaves this key as it is


def test_the_value_itself_and_key_shapes_as_before() -> None:
    redactor = Redactor({**ENV, "MY_SERVICE_TOKEN": "ghp_" + "a1" * 12})
    assert redactor.text(f"a {KEY} b") == "a [REDACTED:OPENAI_API_KEY] b"
    # A variable's value is named by the variable, not by the key shape it also has.
    assert redactor.text("t=ghp_" + "a1" * 12) == "t=[REDACTED:MY_SERVICE_TOKEN]"
    assert redactor.text("ghp_" + "b2" * 12) == "[REDACTED:GITHUB_TOKEN]"
    assert redactor.text("Authorization: Bearer abcdefghijkl") == (
        "Authorization: Bearer [REDACTED:BEARER_TOKEN]"
    )
    # Key shapes are not searched for in encodings: no variable holds this one.
    shaped = base64.b64encode(b"AKIAQWERTYUIOPASDFGH").decode()
    assert redactor.text(shaped) == shaped


def test_short_values_have_fewer_base64_forms() -> None:
    """A core under MIN_CORE characters would match ordinary text: a value under 12 bytes
    has no base64 form, one of 12 only the aligned one, from 13 bytes on all three."""

    def count(value: str) -> int:
        return sum(f.kind == "base64" for f in forms({"PIN_SECRET": value}))

    assert [count("abcdefgh123"), count("abcdefgh1234"), count("abcdefgh12345")] == [0, 1, 3]
    assert all(len(f.text) >= MIN_CORE for f in forms(ENV) if f.kind.startswith("base64"))


def ordinary_output() -> str:
    """Lock files, hashes, uuids and base64 of other data: no secret in any of it."""
    lines = []
    for i in range(300):
        data = f"package-{i}".encode()
        lines += [
            f'"integrity": "sha512-{base64.b64encode(hashlib.sha512(data).digest()).decode()}",',
            f"sha256 {hashlib.sha256(data).hexdigest()} {uuid.UUID(int=i * 7919)}",
            base64.b64encode(hashlib.sha256(data).digest() * 3).decode(),
            base64.encodebytes(f"token=not-the-key-{i}-{KEY[:10]}".encode()).decode(),
        ]
    return "\n".join(lines)


def test_no_false_positive_on_ordinary_blobs_hashes_and_lock_files() -> None:
    text = ordinary_output()
    redactor = Redactor(ENV)
    assert redactor.text(text) == text
    assert SecretScanner(ENV).scan(text.encode()) is None


def test_the_journal_stores_no_encoded_form() -> None:
    blob = base64.b64encode(f"key={KEY}".encode()).decode()
    stored = encode({"output": f"{blob}\n{KEY.encode().hex()}"}, Redactor(ENV))
    # "key" is the first 4 characters; the 5th mixes "=" with the key's first byte.
    assert json.loads(stored)["output"] == (
        f"{blob[:4]}[REDACTED:OPENAI_API_KEY (base64)]\n[REDACTED:OPENAI_API_KEY (hex)]"
    )


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (KEY, "the value of $OPENAI_API_KEY"),
        (
            base64.b64encode(f"k={KEY}".encode()).decode(),
            "the value of $OPENAI_API_KEY, base64-encoded",
        ),
        (
            base64.urlsafe_b64encode(URL.encode()).decode(),
            "the value of $URL_TOKEN, base64url-encoded",
        ),
        (KEY.encode().hex().upper(), "the value of $OPENAI_API_KEY, hex-encoded"),
        (quote(PASSWORD, safe=""), "the value of $DB_PASSWORD, percent-encoded"),
        (PASSWORD[::-1], "the value of $DB_PASSWORD, reversed"),
        ("AKIA" + "QWERTYUIOPASDFGH", "aws access key"),
    ],
)
def test_the_scan_says_which_value_and_how_it_is_encoded(data: str, said: str) -> None:
    assert SecretScanner(ENV).scan(f"x = '{data}'\n".encode()) == said


ODD = 'quo"te\\back\tslash-ünï-😀-secret'  # escaped, non-ASCII and astral in JSON text
STRUCTURE_CASES = [
    KEY,
    ODD,
    ODD[::-1],
    base64.encodebytes(f"token={LONG}".encode()).decode(),  # wrapped at 76
    KEY.encode().hex(),
    quote(PASSWORD, safe=""),
    quote_plus(PASSWORD),
    URL[::-1],
    "Bearer abcdefgh12345678",
    "AKIA" + "QWERTYUIOPASDFGH",
]


@pytest.mark.parametrize("secret", STRUCTURE_CASES)
def test_a_structure_is_walked_whenever_the_walk_would_replace_something(secret: str) -> None:
    """`Redactor.structure` tests the JSON text first and walks only on a hit: it must
    give what the walk gives for every form, in a value, a key, a nested list."""
    redactor = Redactor({**ENV, "ODD_SECRET": ODD})
    messages = [
        {"role": "tool", "content": f"line one\n{secret}\nline three"},
        {"role": "assistant", "tool_calls": [{"function": {"arguments": [1, secret, None]}}]},
        {secret: "as a key", "n": 3.5},
    ]
    walked = redactor.value(messages)
    assert walked != messages  # every case is a secret
    assert redactor.structure(messages) == walked


def test_a_structure_without_a_secret_is_given_back_as_it_is() -> None:
    text = "def main() -> None:\n    print('hello, wörld')\n" * 50
    messages = [{"role": "tool", "content": text}, {"role": "user", "content": "ü"}]
    assert Redactor(ENV).structure(messages) is messages
    odd = [{"at": object()}]  # not JSON-able: walked
    assert Redactor(ENV).structure(odd) == odd
