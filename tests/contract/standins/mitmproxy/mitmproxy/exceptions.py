"""The exceptions upstream's scripts catch."""


class MitmproxyException(Exception):
    """Base class."""


class FlowReadException(MitmproxyException):
    """A flow file could not be read."""


class OptionsError(MitmproxyException):
    """Bad command-line options."""
