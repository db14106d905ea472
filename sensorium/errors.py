"""Errors that say who must act and how.

``SensoriumError`` is the base for errors a user can fix; its message names the input, the problem and the fix.
The CLI prints these without a traceback and exits non-zero.
"""

from __future__ import annotations


class SensoriumError(Exception):
    """An error the user can fix; the message says how."""


class MissingExtraError(SensoriumError, ImportError):
    """An optional dependency is not installed; the message names the exact ``pip install``."""


class ModelNotAvailableError(SensoriumError):
    """A model's weights are not on this machine; the message names the command that fetches them."""


class InputError(SensoriumError, ValueError):
    """A user-supplied input (file, argument, scenario) is unusable; the message names it and the fix."""
