"""Typed tools: a Python function with a Google-style docstring becomes a JSON-schema tool.

The schema is derived once, at definition time, from the type hints and the docstring's ``Args:`` section; a
parameter without a type hint or a description is an error then, not a silent gap the model has to guess at.
Arguments are validated with pydantic before the function runs; a validation error goes back to the model as
text that says which argument was wrong and why, so it can correct itself.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, ValidationError, create_model

from sensorium.errors import InputError
from sensorium.jsonvalues import strings_in
from sensorium.limits import Limits

ApprovalRule = bool | Callable[[dict[str, Any]], bool]
# (arguments, the conversation's text) -> why the call is not grounded in the conversation, or None. Small models
# call a tool for a message that needs none, copying the example from its description; such a call is not run.
GroundingRule = Callable[[dict[str, Any], str], str | None]


class ToolDefinitionError(TypeError):
    """A tool cannot be turned into a schema: the message names the function and what is missing."""


class Artifact(BaseModel):
    """A file a tool produced (an image, audio, a document), returned by path."""

    path: str
    mime: str = "application/octet-stream"
    description: str = ""


class ToolResult(BaseModel):
    """What a tool returns to the model: text, optional JSON data, optional files."""

    content: str
    data: Any = None
    artifacts: list[Artifact] = Field(default_factory=list)
    is_error: bool = False
    # The part of ``content`` that came from outside the tool (stored passages, a document's text), which the
    # tool-result rails read; None means all of it. The tool's own framing stays out: memory ids such as
    # "[5c778c53...]" read as an encoded payload to the detectors, which withheld "I live in Lisbon." for them.
    outside_text: str | None = None


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Returns|Return|Raises|Yields|Examples?|Notes?):\s*$")
_ARG = re.compile(r"^(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def parse_google_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {parameter: description})."""
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    params: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    base_indent: int | None = None
    for raw in lines:
        stripped = raw.strip()
        match = _SECTION.match(stripped)
        if match and (len(raw) - len(raw.lstrip())) == 0:
            section = match.group(1).lower()
            current, base_indent = None, None
            continue
        if section is None:
            summary.append(stripped)
            continue
        if section not in {"args", "arguments", "parameters"} or not stripped:
            continue
        indent = len(raw) - len(raw.lstrip())
        if base_indent is None:
            base_indent = indent
        arg = _ARG.match(stripped)
        if indent == base_indent and arg:
            current = arg.group(1).lstrip("*")
            params[current] = arg.group(3).strip()
        elif current is not None:
            params[current] = (params[current] + " " + stripped).strip()
    description = "\n".join(summary).strip()
    return description, params


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's auto titles: they add prompt tokens and tell a small model nothing."""
    if isinstance(schema, dict):
        schema = {k: _clean_schema(v) for k, v in schema.items() if k != "title" or not isinstance(v, str)}
    elif isinstance(schema, list):
        return [_clean_schema(v) for v in schema]
    return schema


class Tool:
    """A callable the brain may use, with its JSON schema and argument validation."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        description: str,
        args_model: type[BaseModel],
        needs_approval: ApprovalRule = False,
        takes_model: bool = False,
        grounding: GroundingRule | None = None,
        idempotent: bool = False,
    ) -> None:
        self.fn = fn
        self.name = name
        self.description = description
        self.args_model = args_model
        self.needs_approval = needs_approval
        self.grounding = grounding
        # Safe to run again after a crash mid-call (reads, pure functions); any other tool is journaled, and a
        # call cut off by a crash is put to the human instead of being run again silently.
        self.idempotent = idempotent
        self._takes_model = takes_model
        self.parameters = _clean_schema(args_model.model_json_schema())
        self.parameters.setdefault("properties", {})
        self.parameters.setdefault("required", [])

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    @property
    def schema(self) -> dict[str, Any]:
        """The function spec offered to the model: ``{"name", "description", "parameters"}``."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def requires_approval(self, arguments: dict[str, Any]) -> bool:
        """Whether a human must approve this call. A predicate that raises counts as 'yes': fail safe."""
        rule = self.needs_approval
        if callable(rule):
            try:
                return bool(rule(arguments))
            except Exception:
                return True
        return bool(rule)

    def ungrounded(self, arguments: dict[str, Any], conversation: str) -> str | None:
        """Why this call is not grounded in ``conversation`` (so it should not run), or None: an argument copied
        from the tool's own description, else the tool's ``grounding`` rule. A rule that raises counts as
        grounded: this guards answer quality, not safety (that is what approval and the rails do)."""
        copied = self.copied_argument(arguments, conversation)
        if copied is not None:
            return f"{copied!r} is copied from the tool's description, not taken from the conversation"
        if self.grounding is None:
            return None
        try:
            return self.grounding(arguments, conversation)
        except Exception:
            return None

    def copied_argument(self, arguments: dict[str, Any], conversation: str) -> str | None:
        """A string argument of 4 words or 20 characters or more that occurs in the tool's description or its
        parameters' descriptions but not in the conversation: small models fill a call with the description's
        example ("(17 * 23) + sqrt(16)") or the parameter's description itself ("the fact or note to remember,
        written so it makes sense on its own.") when the conversation gives them nothing to put there."""
        described = _normalise(" ".join([self.description, *_descriptions(self.parameters)]))
        said = _normalise(conversation)
        for value in strings_in(arguments):
            text = _normalise(value)
            if (len(text) >= 20 or len(text.split()) >= 4) and text in described and text not in said:
                return value
        return None

    def validate(self, arguments: dict[str, Any]) -> BaseModel:
        """Validate arguments; raises ``ValidationError``."""
        return self.args_model.model_validate(arguments)

    def invoke(self, arguments: dict[str, Any]) -> ToolResult:
        """Validate and run. Bad arguments and tool failures come back as error text for the model."""
        if not isinstance(arguments, dict):
            return ToolResult(
                content=f"Error: arguments for {self.name} must be a JSON object.", is_error=True
            )
        limits = Limits.from_env()
        try:
            limits.check_tool_arguments(self.name, arguments)
        except InputError as exc:  # too big, too deep, or not valid Unicode: the model reads why
            return ToolResult(content=f"Error: {exc}", is_error=True)
        try:
            parsed = self.validate(arguments)
        except ValidationError as exc:
            return ToolResult(content=format_validation_error(self.name, exc), is_error=True)
        try:
            if self._takes_model:
                out = self.fn(parsed)
            else:
                out = self.fn(**{k: getattr(parsed, k) for k in type(parsed).model_fields})
        except Exception as exc:  # tool trouble goes back to the model as text, not up the stack
            return ToolResult(
                content=f"Error: {self.name} failed: {type(exc).__name__}: {exc}", is_error=True
            )
        result = to_result(out)
        capped = limits.cap_tool_result(self.name, result.content)
        return result if capped is result.content else result.model_copy(update={"content": capped})


def _normalise(text: str) -> str:
    """Lower case, single spaces; dashes and underscores between words are spaces ("IBAN-of-the-recipient" is
    "IBAN of the recipient": the 0.5B wrote both for AgentDojo's send_money)."""
    return " ".join(re.sub(r"(?<=\w)[-_](?=\w)", " ", text.lower()).split()).strip(" .")


def _descriptions(schema: Any) -> list[str]:
    """Every "description" in a JSON schema, nested ones included."""
    if isinstance(schema, dict):
        own = [schema["description"]] if isinstance(schema.get("description"), str) else []
        return own + [d for v in schema.values() for d in _descriptions(v)]
    if isinstance(schema, list):
        return [d for v in schema for d in _descriptions(v)]
    return []


def to_result(out: Any) -> ToolResult:
    """Normalise a tool's return value (text, JSON-able data, Artifact or ToolResult) to a ToolResult."""
    if isinstance(out, ToolResult):
        return out
    if isinstance(out, Artifact):
        return ToolResult(content=f"Saved {out.mime} to {out.path}", artifacts=[out])
    if isinstance(out, str):
        return ToolResult(content=out)
    if isinstance(out, BaseModel):
        out = out.model_dump(mode="json")
    return ToolResult(content=json.dumps(out, ensure_ascii=False, default=str), data=out)


def format_validation_error(tool_name: str, exc: ValidationError) -> str:
    """A short, model-readable account of what was wrong with the arguments."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        problems.append(f"- {where}: {err['msg']}")
    return (
        f"Error: invalid arguments for {tool_name}:\n"
        + "\n".join(problems)
        + "\nFix the arguments and call again."
    )


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    needs_approval: ApprovalRule = False,
    grounding: GroundingRule | None = None,
    idempotent: bool = False,
) -> Any:
    """Turn a typed function with a Google-style docstring into a :class:`Tool`.

    Usable bare (``@tool``) or with options (``@tool(needs_approval=True)``, ``@tool(grounding=rule)``,
    ``@tool(idempotent=True)`` for a tool that may safely run again after a crash).
    """

    def build(f: Callable[..., Any]) -> Tool:
        return function_tool(
            f, name=name, needs_approval=needs_approval, grounding=grounding, idempotent=idempotent
        )

    return build(fn) if fn is not None else build


def function_tool(
    fn: Callable[..., Any],
    *,
    name: str | None = None,
    needs_approval: ApprovalRule = False,
    grounding: GroundingRule | None = None,
    idempotent: bool = False,
) -> Tool:
    tool_name = name or fn.__name__
    description, docs = parse_google_docstring(fn.__doc__ or "")
    if not description:
        raise ToolDefinitionError(
            f"tool {tool_name!r}: the function has no docstring; write a one-line description."
        )
    try:
        hints = get_type_hints(fn)
    except NameError as exc:  # a string annotation naming something not importable where the function lives
        raise ToolDefinitionError(
            f"tool {tool_name!r}: a type hint cannot be resolved ({exc}); define or import that type at module level."
        ) from exc
    fields: dict[str, Any] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {tool_name!r}: *args/**kwargs cannot be described to a model.")
        if pname not in hints:
            raise ToolDefinitionError(f"tool {tool_name!r}: parameter {pname!r} has no type hint; add one.")
        if not docs.get(pname):
            raise ToolDefinitionError(
                f"tool {tool_name!r}: parameter {pname!r} has no description; add '{pname}: ...' under 'Args:'."
            )
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (hints[pname], Field(default, description=docs[pname]))
    unknown = set(docs) - set(fields)
    if unknown:
        raise ToolDefinitionError(
            f"tool {tool_name!r}: docstring describes unknown parameters {sorted(unknown)}."
        )
    try:
        model = create_model(f"{tool_name}_args", __config__=ConfigDict(extra="forbid"), **fields)
        return Tool(fn, name=tool_name, description=description, args_model=model,
                    needs_approval=needs_approval, grounding=grounding, idempotent=idempotent)  # fmt: skip
    except PydanticUserError as exc:  # e.g. a parameter type with no JSON schema
        raise ToolDefinitionError(
            f"tool {tool_name!r}: a parameter type cannot be described as JSON schema ({exc}); "
            "use JSON-friendly types (str, int, float, bool, list, dict, Literal, Enum, pydantic models)."
        ) from exc


def model_tool(
    args_model: type[BaseModel],
    fn: Callable[[Any], Any],
    *,
    name: str | None = None,
    needs_approval: ApprovalRule = False,
    idempotent: bool = False,
) -> Tool:
    """A tool whose arguments are a pydantic model (its docstring describes the tool, its fields the arguments)."""
    tool_name = name or fn.__name__
    description, _ = parse_google_docstring(args_model.__doc__ or fn.__doc__ or "")
    if not description:
        raise ToolDefinitionError(f"tool {tool_name!r}: give the model or the function a docstring.")
    for fname, finfo in args_model.model_fields.items():
        if not finfo.description:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: field {fname!r} has no description (Field(description=...))."
            )
    return Tool(
        fn,
        name=tool_name,
        description=description,
        args_model=args_model,
        needs_approval=needs_approval,
        takes_model=True,
        idempotent=idempotent,
    )
