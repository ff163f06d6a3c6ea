"""Preprocessing protocols: what of each message the model is allowed to see.

``raw`` keeps messages as they are. ``clean`` removes headers, signature footers and quoted
replies exactly like scikit-learn's ``fetch_20newsgroups(remove=("headers", "footers",
"quotes"))``, the protocol most of the literature reports as the harder setting, because
headers (sender, organisation, newsgroup lines) make the raw task partly a lookup.
"""

import re
from collections.abc import Callable

from nlpclf.errors import ConfigError

_QUOTE_RE = re.compile(r"(writes in|writes:|wrote:|says:|said:|^In article|^Quoted from|^\||^>)")


def strip_header(text: str) -> str:
    """Drop everything up to the first blank line (the RFC 822 header block)."""
    _before, _blank, after = text.partition("\n\n")
    return after


def strip_quotes(text: str) -> str:
    """Drop lines that quote another message or introduce a quote."""
    return "\n".join(line for line in text.split("\n") if not _QUOTE_RE.search(line))


def strip_footer(text: str) -> str:
    """Drop the signature: everything after the last line made only of dashes or blanks."""
    lines = text.strip().split("\n")
    line_num = 0
    for line_num in range(len(lines) - 1, -1, -1):
        if lines[line_num].strip().strip("-") == "":
            break
    if line_num > 0:
        return "\n".join(lines[:line_num])
    return text


def clean(text: str) -> str:
    """Headers, then footers, then quotes: the order scikit-learn applies them in."""
    return strip_quotes(strip_footer(strip_header(text)))


def raw(text: str) -> str:
    return text


PROTOCOLS: dict[str, Callable[[str], str]] = {"raw": raw, "clean": clean}


def get_protocol(name: str) -> Callable[[str], str]:
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown data.protocol {name!r}. Choose one of {sorted(PROTOCOLS)}, "
            "e.g. data.protocol=clean."
        ) from None
