"""The tool registry: tool name -> "module:attr" of a :class:`~sensorium.tools.base.Tool`, imported on demand.

Importing a tool module must not load a model (tool modules load theirs on first call), so resolving a name is
cheap; a tool whose module needs an uninstalled extra fails with the ``pip install`` that fixes it.
"""

from __future__ import annotations

import importlib

from sensorium.errors import InputError, MissingExtraError

from .base import Tool

TOOLS: dict[str, str] = {
    "transcribe_audio": "sensorium.tools.speech:transcribe_audio",
    "speak": "sensorium.tools.speech:speak",
    "describe_image": "sensorium.tools.vision:describe_image",
    "classify_image": "sensorium.tools.vision:classify_image",
    "find_images": "sensorium.tools.vision:find_images",
    "generate_image": "sensorium.tools.imagegen:generate_image",
    "remember": "sensorium.tools.memory:remember",
    "search_memory": "sensorium.tools.memory:search_memory",
    "read_file": "sensorium.tools.files:read_file",
    "write_file": "sensorium.tools.files:write_file",
    "list_files": "sensorium.tools.files:list_files",
    "calculate": "sensorium.tools.basic:calculate",
    "current_time": "sensorium.tools.basic:current_time",
}


class UnknownToolError(InputError, KeyError):
    """A tool name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def get_tool(name: str) -> Tool:
    """The :class:`Tool` registered as ``name``."""
    target = TOOLS.get(name)
    if target is None:
        raise UnknownToolError(f"unknown tool {name!r}; registered tools are: {', '.join(sorted(TOOLS))}")
    module_name, attr = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except MissingExtraError:
        raise
    except ImportError as exc:
        raise MissingExtraError(
            f"tool {name!r} could not be imported from {module_name} ({exc}); "
            "install its extra, e.g. pip install 'sensorium[all]'"
        ) from exc
    obj = getattr(module, attr, None)
    if not isinstance(obj, Tool):
        raise InputError(f"tool {name!r}: {target} is not a sensorium Tool (got {type(obj).__name__})")
    return obj
