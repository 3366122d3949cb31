"""Errors that tell the user what to change."""


class RoutellmError(Exception):
    """Base class of every error routellm raises on purpose.

    The CLI prints these as one message, without a traceback.
    """


class ConfigError(RoutellmError, ValueError):
    """A configuration file or section is missing, malformed, or names something unknown."""


class PluginError(RoutellmError):
    """Plugins conflict (duplicate names) or misbehave (a hook returns the wrong type)."""


class UnknownNameError(RoutellmError, KeyError):
    """A router, benchmark or embedder name that no installed plugin provides."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
