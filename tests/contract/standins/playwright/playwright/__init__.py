"""A stand-in for Playwright 1.47: the sync API over an HTTP-client browser, traces as
Playwright writes them, and the async API as thin wrappers."""

__version__ = "1.47.0"
