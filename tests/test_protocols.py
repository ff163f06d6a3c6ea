import random

import pytest
from sklearn.datasets import _twenty_newsgroups as sk

from corpora import GROUPS, message
from nlpclf.data.protocols import clean, get_protocol, raw, strip_footer, strip_header, strip_quotes
from nlpclf.errors import ConfigError

POST = """From: alice@example.org
Subject: Re: orbits
Organization: Example

In article <1@host> bob@example.org writes:
> Is the orbit stable?
|> older quote
The orbit is stable for decades.
Quoted from somewhere
Second body line.

--
Alice, Example Org
"""


def test_strip_header_drops_everything_before_the_first_blank_line():
    assert strip_header("From: a\nSubject: b\n\nbody\n\nmore") == "body\n\nmore"
    assert strip_header("no header block at all") == ""


def test_strip_quotes_drops_quote_lines_and_their_introductions():
    text = "intro\nIn article <x> y writes:\n> quoted\n|> nested\nkept line\nsomeone wrote: hi"
    assert strip_quotes(text) == "intro\nkept line"


def test_strip_footer_drops_the_signature_after_the_last_dash_line():
    assert strip_footer("body one\nbody two\n--\nsig line") == "body one\nbody two"
    assert strip_footer("body\n\nsig after blank") == "body"
    # no separator at all: unchanged
    assert strip_footer("only\nlines") == "only\nlines"


def test_clean_keeps_only_the_authors_own_words():
    assert clean(POST) == "The orbit is stable for decades.\nSecond body line.\n"
    assert raw(POST) == POST


def test_clean_matches_scikit_learn_exactly():
    rng = random.Random(1)
    texts = [message(rng.choice(GROUPS), rng, i) for i in range(200)] + [POST, "", "x\n\ny"]
    for text in texts:
        expected = sk.strip_newsgroup_quoting(
            sk.strip_newsgroup_footer(sk.strip_newsgroup_header(text))
        )
        assert clean(text) == expected


def test_unknown_protocol_names_the_choices():
    with pytest.raises(ConfigError, match=r"Unknown data.protocol 'tidy'.*\['clean', 'raw'\]"):
        get_protocol("tidy")
