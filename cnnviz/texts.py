"""Words to show later: an English template from the catalog and its parameters.

Texts that are kept (in the session state, in a training snapshot, in a preprocessing step) or
sent between processes must not freeze one language. A :class:`Text` keeps the English template
(marked with ``N_`` where it is written, so the catalog holds it) and its parameters, and is
rendered when it is shown:

>>> note = Text(N_("Cut to the ink's bounding box, {height} x {width} pixels."), height=20, width=9)
>>> note.english                      # the source text, whatever the language
"Cut to the ink's bounding box, 20 x 9 pixels."
>>> str(note)                         # the current language (cnnviz.i18n.set_language)
"Cut to the ink's bounding box, 20 x 9 pixels."

A parameter may itself be a :class:`Text` (translated with its sentence) or a :class:`Percent`
or a :class:`Number` (written as the
language writes percentages and numbers). Texts are small, immutable and picklable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnviz import i18n
from cnnviz.i18n import N_

__all__ = ["N_", "Number", "Percent", "Text"]


@dataclass(frozen=True)
class Number:
    """A number in prose: 50000000 -> "50,000,000" (English), "50.000.000" (Vietnamese)."""

    value: float
    decimals: int | None = None

    def render(self, translate: bool = True) -> str:
        if translate:
            return i18n.number(self.value, self.decimals)
        if self.decimals is None:
            return f"{self.value:,}"
        return f"{self.value:,.{self.decimals}f}"

    def __format__(self, spec: str) -> str:
        return format(self.render(), spec)


@dataclass(frozen=True)
class Percent:
    """A fraction shown as a percentage: 0.978 -> "97.80%" (English), "97,80%" (Vietnamese)."""

    value: float
    decimals: int = 2

    def render(self, translate: bool = True) -> str:
        if translate:
            return i18n.percent(self.value, self.decimals)
        return f"{float(self.value):.{self.decimals}%}"

    def __format__(self, spec: str) -> str:
        return format(self.render(), spec)


@dataclass(frozen=True)
class Text:
    """An English ``template`` with ``{name}`` fields and the ``params`` that fill them."""

    template: str
    params: dict = field(default_factory=dict)

    def __init__(self, template: str, /, **params):
        object.__setattr__(self, "template", template)
        object.__setattr__(self, "params", params)

    def render(self, translate: bool = True) -> str:
        """The text in the current language (``translate=False``: in English)."""
        template = i18n._(self.template) if translate else self.template
        if not self.params:
            return template
        values = {
            k: v.render(translate) if isinstance(v, Text | Number | Percent) else v
            for k, v in self.params.items()
        }
        return template.format(**values)

    @property
    def english(self) -> str:
        return self.render(translate=False)

    def __str__(self) -> str:
        return self.render()

    def __format__(self, spec: str) -> str:
        return format(self.render(), spec)

    def __eq__(self, other) -> bool:
        if isinstance(other, Text):
            return (self.template, self.params) == (other.template, other.params)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.template)

    def __reduce__(self):
        return (_text, (self.template, self.params))


def _text(template: str, params: dict) -> Text:
    return Text(template, **params)
