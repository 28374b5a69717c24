"""Manage cnnviz's gettext catalogs with Babel.

    python scripts/i18n.py update   # extract every marked message, update vi and en catalogs
    python scripts/i18n.py check    # every message translated, same placeholders, no fuzzy
    python scripts/i18n.py stats    # how many messages, how many translated, per language

Messages are marked in the code with ``_("...")``, ``N_("...")`` and ``InputError("...")``
(cnnviz/, pages/, app.py). ``update`` keeps existing translations, marks changed ones fuzzy
(they must be checked and the fuzzy flag removed), and fills the English catalog with the
source text. The same can be done with Babel's command line:

    pybabel extract -k _ -k N_ -k InputError -o messages.pot cnnviz pages app.py
    pybabel update -i messages.pot -d cnnviz/locale -D cnnviz

To add a language: ``pybabel init -i messages.pot -d cnnviz/locale -D cnnviz -l fr``, translate
cnnviz/locale/fr/LC_MESSAGES/cnnviz.po, and add it to ``cnnviz.i18n.LANGUAGES``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cnnviz.i18n import DOMAIN, LANGUAGES, catalog_path  # noqa: E402

KEYWORDS = {"_": None, "N_": None, "InputError": None}
SOURCES = [ROOT / "cnnviz", ROOT / "pages"]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def extract() -> Catalog:
    """Every marked message of the app and the engine, with where it is used."""
    template = Catalog(domain=DOMAIN, project="cnnviz", charset="utf-8")
    found = []
    for folder in SOURCES:
        found += [(folder, m) for m in extract_from_dir(
            folder, [("**.py", "python")], keywords=KEYWORDS, comment_tags=("i18n:",)
        )]  # fmt: skip
    from babel.messages.extract import extract as extract_file

    with open(ROOT / "app.py", "rb") as f:
        found += [(ROOT, ("app.py", *m)) for m in extract_file("python", f, keywords=KEYWORDS)]
    for folder, (filename, lineno, message, comments, context) in found:
        if not message or not isinstance(message, str):
            continue  # a keyword called with a variable: nothing to extract
        where = (str((folder / filename).relative_to(ROOT)), lineno)
        template.add(message, locations=[where], auto_comments=comments, context=context)
    return template


def update() -> None:
    template = extract()
    for lang in LANGUAGES:
        path = catalog_path(lang)
        if path.is_file():
            with open(path, "rb") as f:
                catalog = read_po(f, locale=lang, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=DOMAIN, project="cnnviz", charset="utf-8")
        catalog.update(template, no_fuzzy_matching=True)
        if lang == "en":  # the source language: every message is its own translation
            for message in catalog:
                if message.id:
                    message.string = message.id
                    message.flags.discard("fuzzy")
        with open(path, "wb") as f:
            write_po(f, catalog, width=100, omit_header=False, ignore_obsolete=True)
    print(f"{len(template)} messages extracted; catalogs updated: {', '.join(LANGUAGES)}")


def problems(lang: str) -> list[str]:
    """What is wrong with the catalog of ``lang``: missing, fuzzy, placeholders that differ."""
    with open(catalog_path(lang), "rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            wrong.append(f"{lang}: fuzzy: {message.id!r}")
        if not message.string:
            wrong.append(f"{lang}: untranslated: {message.id!r}")
        elif sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string)):
            wrong.append(f"{lang}: placeholders differ: {message.id!r} -> {message.string!r}")
    source = {m.id for m in extract() if m.id}
    have = {m.id for m in catalog if m.id}
    wrong += [f"{lang}: missing from the catalog: {m!r}" for m in sorted(source - have)]
    return wrong


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
        return 0
    if command == "stats":
        for lang in LANGUAGES:
            with open(catalog_path(lang), "rb") as f:
                catalog = read_po(f, locale=lang)
            done = sum(1 for m in catalog if m.id and m.string and not m.fuzzy)
            print(f"{lang}: {done} of {sum(1 for m in catalog if m.id)} translated")
        return 0
    wrong = [p for lang in LANGUAGES for p in problems(lang)]
    print("\n".join(wrong) or "catalogs complete")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
