"""Playwright's error classes."""

from __future__ import annotations


class Error(Exception):
    """Base class of Playwright errors (`playwright.sync_api.Error`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.name = type(self).__name__


class TimeoutError(Error):
    """An action or an assertion ran out of time."""
