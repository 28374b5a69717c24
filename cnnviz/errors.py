"""Errors meant for people.

``InputError`` carries one sentence a user can act on; pages show it with ``st.error`` or
``st.info`` instead of a traceback. The sentence is a message template from the catalog and its
parameters, so it reads in the language of whoever shows it (see :mod:`cnnviz.i18n`):

>>> raise InputError("The learning rate must be a positive number, not {value}.", value="-1")
"""

from __future__ import annotations

from cnnviz import i18n


class InputError(ValueError):
    """Bad input from a user (a file, a drawing, a kernel cell, a hyperparameter).

    ``message`` is one sentence, written for the person who gave the input: a literal template
    (so the catalog can hold it) with ``{name}`` fields filled from ``params``. ``str()`` gives
    it in the current language.
    """

    def __init__(self, message: str, /, **params):
        self.template = message
        self.params = params
        super().__init__(message.format(**params) if params else message)

    def __str__(self) -> str:
        text = i18n._(self.template)
        return text.format(**self.params) if self.params else text
