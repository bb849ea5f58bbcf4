"""Errors that carry a message meant for the person using the app, in any of the page's languages.

A message is English text, optionally with the key of its translations (`msg.error.*` and
`msg.what.*` in `ui/locales/*.json`) and the values of its `{placeholders}`:
`UserInputError("the {what} is an empty file", key="msg.error.empty_file", what=...)`. `str()` is
the English (logs, API clients, tests); the page (`ui.common.as_gr_error`, which knows the
request) shows the key's text in the visitor's language. A value may itself be a `Phrase` (a
translatable noun such as "the photo"), translated the same way. Core never imports the ui.
"""

from __future__ import annotations


class Phrase:
    """English `text` (a str.format template), the key of its translations and its values."""

    def __init__(self, text: str, key: str | None = None, **values: object) -> None:
        self.text, self.key, self.values = text, key, values

    def __str__(self) -> str:
        return self.text.format(**self.values) if self.values else self.text

    def __repr__(self) -> str:
        return f"Phrase({str(self)!r}, key={self.key!r})"


class UserInputError(ValueError):
    """Bad input from a user: the app shows the message as a `gr.Error` and keeps serving."""

    def __init__(self, message: str | Phrase, key: str | None = None, **values: object) -> None:
        self.phrase = message if isinstance(message, Phrase) else Phrase(message, key, **values)
        super().__init__(str(self.phrase))
