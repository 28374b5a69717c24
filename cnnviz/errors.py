"""Errors meant for people.

``InputError`` carries one sentence a user can act on; pages show it with ``st.error`` or
``st.info`` instead of a traceback.
"""


class InputError(ValueError):
    """Bad input from a user (a file, a drawing, a kernel cell, a hyperparameter).

    The message is one sentence, written for the person who gave the input.
    """
