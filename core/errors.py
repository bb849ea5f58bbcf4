"""Errors that carry a message meant for the person using the app."""


class UserInputError(ValueError):
    """Bad input from a user: the app shows the message as a `gr.Error` and keeps serving."""
