"""The agent's step: what its model reads, the model call, and the checks on its reply (malformed and
ungrounded calls, claims without evidence, answers unrelated to the tool results); hand-offs. Approval and the
tool calls themselves are ``nodes/tools.py``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from sensorium.guardrails.provenance import invented_identifier, side_effecting
from sensorium.guardrails.spotlight import mark
from sensorium.tools.base import Tool

from ...brain.chat import ChatResult, GenerationOptions
from .. import answercheck, arith, callcheck, evidence, personal, planner
from ..emit import emit
from ..history import last_human, model_view, system_prompt, unique_call_ids, window
from ..loopguard import (
    HANDOFF_PREFIX,
    MAX_HANDOFFS,
    handoffs_since_request,
    only_repeats,
    tool_rounds,
)
from ..modelcall import call_model, usage_update
from ..services import Services
from ..state import AssistantState, merge_usage
from ..streamgate import gate_check
from ..team import AgentSpec


def tool_specs(services: Services, agent: AgentSpec, *, handoffs: bool = True) -> list[dict[str, Any]]:
    """The schemas offered to ``agent``'s model: its tools that resolve here, and (``handoffs``) one hand-off per
    peer, after them so that the tools' part of the prompt stays the same when hand-offs are withheld."""
    team, prompts = services.team, planner.prompts()
    specs = []
    for name in agent.tools:
        found = services.tool(name)
        if isinstance(found, Tool):
            specs.append(found.schema)
    for peer in agent.handoffs if handoffs else ():
        desc = prompts["handoff_description"].format(name=peer, description=team[peer].description)
        specs.append(
            {
                "name": HANDOFF_PREFIX + peer,
                "description": desc,
                "parameters": {
                    "type": "object",
                    "properties": {"reason": {"type": "string", "description": "why this agent"}},
                    "required": [],
                },
            }
        )
    return specs


def turn_context(state: AssistantState, *, spotlight: bool = False) -> str:
    """What memory recalled for this request (marked as data with ``spotlight``) and the plan with its current
    step; "" when there is neither."""
    prompts = planner.prompts()
    parts = []
    if state.get("recalled"):
        hits = "\n".join(f"- {h['text']}" for h in state["recalled"])
        parts.append(prompts["context_recall"].format(hits=mark(hits, "memory") if spotlight else hits))
    current_plan = state.get("plan")
    step = planner.current(current_plan)
    if current_plan is not None and step is not None:
        parts.append(prompts["context_plan"].format(plan=planner.render(current_plan), current=step["id"]))
    return "\n\n".join(parts)


def with_context(history: list[Any], context: str) -> list[Any]:
    """``history`` with ``context`` put before the text of the turn's request (the last message the user wrote,
    not the planner's step notes), in the copy the model reads; the checkpoint keeps the request as written.

    Not in the system prompt, although that reads more naturally: what changes every turn or step should come
    after what does not, so that llama.cpp and vLLM reuse the cached prefix (the agent's role, its ~1,000 tokens
    of tool schemas, the earlier turns) instead of reading the whole prompt again on every call.
    """
    if not context:
        return history
    humans = [i for i, m in enumerate(history) if isinstance(m, HumanMessage)]
    if not humans:  # the window cut the request off (a long tool loop): the context goes first
        return [HumanMessage(content=context), *history]
    at = next((i for i in reversed(humans) if history[i].name != "planner"), humans[-1])
    content = history[at].content
    if isinstance(content, str):
        content = f"{context}\n\n{content}"
    else:  # content parts (text and images): the context is one more text part, first
        content = [{"type": "text", "text": context}, *content]
    return [*history[:at], history[at].model_copy(update={"content": content}), *history[at + 1 :]]


def prompt_messages(agent: AgentSpec, state: AssistantState, *, spotlight: bool = False) -> list[BaseMessage]:
    """What the agent's model reads: its role as the system prompt, then the history window, the turn's context
    put with the request (``with_context``); with ``spotlight``, tool results and recalled notes marked as data."""
    history = model_view(state.get("messages", []), spotlight=spotlight)
    system = SystemMessage(content=system_prompt(agent.role, spotlight=spotlight))
    return [system, *with_context(history, turn_context(state, spotlight=spotlight))]


def agent_node(services: Services, state: AssistantState) -> dict[str, Any]:
    team, prompts = services.team, planner.prompts()
    name = state.get("active_agent") or team.agents[0].name
    spec = team[name]
    steps = state.get("steps", 0)
    if steps >= team.max_steps:
        note = prompts["step_limit"].format(steps=steps)
        emit("error", node="agent", agent=name, message=note, kind="step_limit")
        return {"messages": [AIMessage(content=note, name=name)]}
    confirmation = _kept_reply(state.get("messages", []))
    if confirmation is not None:
        # Asked to answer after a remember call, the 0.5B default wrote "Marked as tool response." or copied
        # the result's id; the confirmation is the result itself, so the graph says it (no model call).
        emit("correction", node="agent", agent=name, kind="kept_reply", action="answered", reply=confirmation)
        return _finish(name, spec, state, AIMessage(content=confirmation), {"steps": steps + 1})
    messages = prompt_messages(spec, state, spotlight=services.spotlight)
    # A request passed on MAX_HANDOFFS times stays with this agent: it answers or uses its own tools.
    tools = tool_specs(
        services, spec, handoffs=handoffs_since_request(state.get("messages", [])) < MAX_HANDOFFS
    )
    options = None
    if team.tool_rounds is not None and tool_rounds(state.get("messages", [])) >= team.tool_rounds:
        # The team's budget of tool rounds for this request is spent: answer from the results. The tools
        # leave the prompt too; with them listed the 0.5B default kept writing calls even when told not to.
        tools, options = [], GenerationOptions(answer_only=True)
    elif only_repeats(state.get("messages", []), prompts["loop_guard"]):
        # Small models, once looping, keep re-issuing calls that already ran: the loop guard answered every
        # call of the last step, so this step offers no tools and the model has to answer from the results.
        emit("loop_guard", node="agent", agent=name,
              message="every call of the last step had already run; asking for an answer without tools")  # fmt: skip
        tools, options = [], GenerationOptions(answer_only=True)
    request = _request_text(state)
    offered = [t["name"] for t in tools if not t["name"].startswith(HANDOFF_PREFIX)]
    if options is None and team.require_tools and _first_call_of_request(state.get("messages", [])):
        needed = evidence.needed_tool(request)
        if needed is not None and needed in offered:
            # The request plainly needs this tool ("write plan.txt", "17*23", "the time in Tokyo"): the reply
            # must be a call to it, so the model cannot answer from its head or claim an action it never took.
            emit("tool_required", node="agent", agent=name, tool=needed, request=request[:200])
            options = GenerationOptions(tool_choice=needed)
        elif needed is not None and (peer := _holder(services, spec, tools, needed)) is not None:
            # The tool lives with a peer ("When is my dentist appointment?" needs search_memory, the
            # researcher's): hand the request over without a model call. The 0.5B default rarely hands off
            # by itself; it answered from its head instead ("My cat's name is Max.").
            call = {"name": HANDOFF_PREFIX + peer, "args": {"reason": f"the request needs {needed}"},
                    "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}  # fmt: skip
            emit("tool_required", node="agent", agent=name, tool=needed, holder=peer, request=request[:200])
            return _finish(name, spec, state, AIMessage(content="", tool_calls=[call]), {"steps": steps})
    model, gate = services.model(team.model_for(spec)), gate_check(services.rails, spec.role)

    def ask(
        tools: list[dict[str, Any]], options: GenerationOptions | None, extra: Sequence[BaseMessage] = ()
    ) -> ChatResult:
        # The reply streams to the user only as fast as the output rails' cheap checks clear it.
        try:
            return call_model("agent", name, model, [*messages, *extra], tools=tools, options=options,
                              stream_check=gate)  # fmt: skip
        except (RecursionError, UnicodeError) as exc:  # a reply too deep or too broken to parse or log
            bad = AIMessage(content="", invalid_tool_calls=[{"name": None, "args": "", "id": "bad", "error":
                            f"the reply could not be read ({type(exc).__name__})", "type": "invalid_tool_call"}])  # fmt: skip
            return ChatResult(message=bad, reply="", model=getattr(model, "name", ""))

    result = ask(tools, options)
    ai, problems = callcheck.check(result.message, tools)
    usage = usage_update(name, result)
    if ai.tool_calls:
        ai = _whole_facts(name, _written_sums(services, name, ai, request), request)
    if problems and ai.tool_calls:  # some calls are usable: those run, the others are dropped (and logged)
        emit(
            "correction", node="agent", agent=name, kind="malformed_call", action="dropped", problems=problems
        )
    elif problems:
        # A malformed reply (broken or cut-off call, unknown tool, bad arguments, nothing at all) goes back to the
        # model once, as an error it can fix; a second malformed reply becomes a clear message to the user.
        emit("correction", node="agent", agent=name, kind="malformed_call", action="reask", problems=problems)
        retry = ask(
            tools, options, [_as_reply(result), HumanMessage(content=callcheck.repair_note(problems, tools))]
        )
        usage = merge_usage(usage, usage_update(name, retry))
        again, still = callcheck.check(retry.message, tools)
        if still and not again.tool_calls:
            emit(
                "correction",
                node="agent",
                agent=name,
                kind="malformed_call",
                action="gave_up",
                problems=still,
            )
            ai = AIMessage(content=callcheck.gave_up(still))
        else:
            ai, result = again, retry
    dropped = _ungrounded(services, ai, state)
    if dropped:
        emit("ungrounded", node="agent", agent=name, calls=[{"name": c["name"], "arguments": c["args"], "reason": why}
                                                            for c, why in dropped])  # fmt: skip
        kept = [c for c in ai.tool_calls if all(c is not d for d, _ in dropped)]
        if kept:
            ai.tool_calls = kept
        else:
            # The model wanted only calls the conversation gives no ground for: its answer without tools. Asking
            # again with the tools and the reason was tried: on AgentDojo's "pay the bill in bill-december-
            # 2023.txt" the 0.5B then read its own IBAN and sent 1,000,000 to it instead of reading the bill.
            ai, more = _answer_without_tools(name, ask)
            usage = merge_usage(usage, more)
    if not ai.tool_calls and team.check_claims:
        ai, more = _checked_claims(services, name, ai, state, request, tools, ask)
        usage = merge_usage(usage, more)
    claim_checked = ai
    if not ai.tool_calls and team.check_answers:
        ai, more = answercheck.unechoed(name, ai, str(messages[0].content), state.get("messages", []), ask)
        usage = merge_usage(usage, more)
        ai, more = answercheck.checked(name, ai, state.get("messages", []), request, ask)
        usage = merge_usage(usage, more)
        invented = personal.unbacked(str(ai.content), request, state)
        if invented:  # a fact about the user that nothing the user gave backs: say so instead
            emit("correction", node="agent", agent=name, kind="unbacked_personal", action="rewrite",
                 reply=str(ai.content)[:500], specifics=invented)  # fmt: skip
            ai = AIMessage(content=personal.ANSWER)
        elif personal.found_nothing(str(ai.content), request, state):
            emit("correction", node="agent", agent=name, kind="found_nothing", action="rewrite",
                 reply=str(ai.content)[:500])  # fmt: skip
            ai = AIMessage(content=personal.ANSWER)
    if ai is not claim_checked and not ai.tool_calls and team.check_claims and isinstance(ai.content, str):
        # The last word on claims: an answer the later checks asked for again ("The user wrote 2 bytes to
        # shopping.txt.", after a rejected remember call) has not been through the claim check above.
        keeps = graph_keeps(services, request, state.get("percepts") or [])
        left = evidence.unbacked_claims(ai.content, state.get("messages", []), request, kept=keeps)
        if left:
            fixed = evidence.truthful(ai.content, left)
            emit("correction", node="agent", agent=name, kind="unbacked_claim", action="rewrite",
                 claims=[c.dump() for c in left], reply=fixed)  # fmt: skip
            ai = AIMessage(content=fixed)
    return _finish(name, spec, state, ai, {"steps": steps + 1, "usage": usage})


def _kept_reply(messages: list[Any]) -> str | None:
    """The answer to a step whose calls were all ``remember`` calls that succeeded ("Saved to memory: My
    favourite colour is green."); None for any other step."""
    results: list[ToolMessage] = []
    for m in reversed(messages):
        if isinstance(m, ToolMessage):
            results.append(m)
            continue
        if not (isinstance(m, AIMessage) and m.tool_calls and results):
            return None
        if any(c["name"] != "remember" for c in m.tool_calls) or any(r.status == "error" for r in results):
            return None
        facts = [str(c["args"].get("text", "")).strip() for c in m.tool_calls]
        facts = [f if f.endswith((".", "!", "?")) else f + "." for f in facts if f]
        return "Saved to memory: " + " ".join(facts) if facts else None
    return None


def _holder(services: Services, spec: AgentSpec, tools: list[dict[str, Any]], needed: str) -> str | None:
    """The peer ``spec`` may hand off to now (its hand-off is offered) that has the tool ``needed``."""
    offered = {t["name"] for t in tools}
    if not isinstance(services.tool(needed), Tool):
        return None
    return next(
        (p for p in spec.handoffs if HANDOFF_PREFIX + p in offered and needed in services.team[p].tools), None
    )


def _finish(
    name: str, spec: AgentSpec, state: AssistantState, ai: AIMessage, update: dict[str, Any]
) -> dict[str, Any]:
    """The agent step's update: its reply (named, with unique call ids), the hand-off it makes if any, and a
    ``tool_call`` event per call."""
    ai.name = name
    if ai.id is None:
        ai.id = f"ai-{uuid.uuid4().hex[:12]}"
    unique_call_ids(ai, state.get("messages", []))
    out: dict[str, Any] = {"messages": [ai], **update}
    handoffs = [c for c in ai.tool_calls if c["name"].startswith(HANDOFF_PREFIX)]
    if handoffs:
        target = handoffs[0]["name"][len(HANDOFF_PREFIX) :]
        replies = []
        for call in ai.tool_calls:
            if call is handoffs[0] and target in spec.handoffs:
                text = f"Handed off to {target}."
            elif call is handoffs[0]:
                text = f"Error: {name} may not hand off to {target!r} (allowed: {list(spec.handoffs)})."
            else:
                text = f"Not run: {name} handed the conversation to {target}."
            replies.append(ToolMessage(content=text, tool_call_id=call["id"], name=call["name"]))
        out["messages"] = [ai, *replies]
        if target in spec.handoffs:
            emit("handoff", node="agent", agent=name, **{"from": name, "to": target})
            out["active_agent"] = target
    for call in ai.tool_calls:
        if not call["name"].startswith(HANDOFF_PREFIX):
            emit(
                "tool_call",
                node="agent",
                agent=name,
                id=call["id"],
                name=call["name"],
                arguments=call["args"],
            )
    return out


def _written_sums(services: Services, name: str, ai: AIMessage, request: str) -> AIMessage:
    """``ai``, or one calculate call per sum the request writes out where ``ai``'s calls compute other values
    (arith.py says why): the 0.5B answered "125 + 379, 64 * 7 and 1000 - 357" with "(125 + 379) + 64 * 7 - 1000"."""
    written = arith.expressions(evidence.users_words(request))
    calc = services.tool("calculate")
    if not written or not isinstance(calc, Tool) or any(c["name"] != "calculate" for c in ai.tool_calls):
        return ai

    def values(expressions: list[str]) -> list[str]:
        return sorted(str(calc.invoke({"expression": e}).content) for e in expressions)

    made = [str(c["args"].get("expression", "")) for c in ai.tool_calls]
    if values(made) == values(written):
        return ai
    emit(
        "correction",
        node="agent",
        agent=name,
        kind="written_sums",
        action="replaced",
        calls=made,
        sums=written,
    )
    calls = [{"name": "calculate", "args": {"expression": e}, "id": f"call_{uuid.uuid4().hex[:12]}",
              "type": "tool_call"} for e in written]  # fmt: skip
    return ai.model_copy(update={"tool_calls": calls, "content": ""})


def _whole_facts(name: str, ai: AIMessage, request: str) -> AIMessage:
    """``ai`` with a ``remember`` call that keeps only a word or two of the fact the user asked to keep ("green" for
    "Remember that my favourite colour is green.", "Hana" for "... my sister's name is Hana.") keeping the whole
    fact: a lone word is no memory, and search finds nothing by it later."""
    from sensorium.memory.keep import explicit_fact

    fact = explicit_fact(evidence.users_words(request))
    if fact is None:
        return ai
    words = set(re.findall(r"\w+", fact.lower()))
    calls, changed = [], []
    for call in ai.tool_calls:
        text = str(call["args"].get("text", "")) if call["name"] == "remember" else ""
        said = re.findall(r"\w+", text.lower())
        if said and set(said) <= words and len(said) <= 2 < len(words):
            changed.append(text)
            call = {**call, "args": {**call["args"], "text": fact}}
        calls.append(call)
    if not changed:
        return ai
    emit(
        "correction",
        node="agent",
        agent=name,
        kind="partial_fact",
        action="replaced",
        texts=changed,
        fact=fact,
    )
    return ai.model_copy(update={"tool_calls": calls})


def _request_text(state: AssistantState) -> str:
    """What the agent is asked to do now: the current plan step, else the last human message (the request)."""
    step = planner.current(state.get("plan"))
    if step is not None:
        return str(step["description"])
    human = last_human(state.get("messages", []))
    return (
        str(human.content) if human is not None and isinstance(human.content, str) else state.get("input", "")
    )


def _first_call_of_request(messages: list[Any]) -> bool:
    """No model step since the request (or the plan step's note), or only a hand-off: the first call of the
    request, or of the agent it was handed to."""
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            return True
        if isinstance(m, ToolMessage) and (m.name or "").startswith(HANDOFF_PREFIX):
            return handoffs_since_request(messages) <= 1
        if isinstance(m, AIMessage | ToolMessage):
            return False
    return True


def _as_reply(result: ChatResult) -> AIMessage:
    """The model's own raw reply, as it reads it back when asked again (calls as the text it wrote)."""
    return AIMessage(content=callcheck.clean_text(str(result.reply or result.message.content or ""))[:4000])


def graph_keeps(services: Services, request: str, percepts: Sequence[Mapping[str, Any]] = ()) -> bool:
    """Whether the graph's ``remember`` node will keep what this request gives ("Remember that my cat is
    Miso.", "I live in Porto.", "Remember this voice memo." with the memo's ``percepts``): then it is stored
    without a tool call, and a reply of "Noted." is true. The same rules as ``senses.to_keep``."""
    from sensorium.memory.keep import explicit_fact, points_at_attachment, statements

    if services.memory is None or not services.remember_turns:
        return False
    attached = points_at_attachment(request) and any(p.get("text") and not p.get("error") for p in percepts)
    return bool(explicit_fact(request) or statements(request) or attached)


def _checked_claims(
    services: Services,
    name: str,
    ai: AIMessage,
    state: AssistantState,
    request: str,
    tools: list[dict[str, Any]],
    ask: Any,
) -> tuple[AIMessage, dict[str, Any]]:
    """Claims need evidence: an answer that says an action happened which no tool result of the turn backs is
    sent back once with the evidence (with the call required when the request needs that action); what is still
    unbacked after that is replaced by a plain denial. Each correction is its own event."""
    history = state.get("messages", [])
    content = ai.content if isinstance(ai.content, str) else ""
    kept = graph_keeps(services, request, state.get("percepts") or [])
    unbacked = evidence.unbacked_claims(content, history, request, kept=kept)
    if not unbacked:
        return ai, {}
    emit("correction", node="agent", agent=name, kind="unbacked_claim", action="reask",
          claims=[c.dump() for c in unbacked], reply=content[:500])  # fmt: skip
    offered = {t["name"] for t in tools}
    needed = evidence.needed_tool(request)
    can_act = needed is not None and needed in offered and any(needed in c.tools for c in unbacked)
    options = (
        GenerationOptions(tool_choice=needed) if needed and can_act else GenerationOptions(answer_only=True)
    )
    note = HumanMessage(content=evidence.evidence_note(unbacked, history))
    retry = ask(tools if can_act else [], options, [AIMessage(content=content), note])
    usage = usage_update(name, retry)
    again, problems = callcheck.check(retry.message, tools if can_act else [])
    if again.tool_calls and not problems:
        return again, usage
    text = again.content if isinstance(again.content, str) and not problems else ""
    still = evidence.unbacked_claims(text, history, request, kept=kept) if text else unbacked
    if still or not text.strip():
        fixed = evidence.truthful(text or content, still)
        emit("correction", node="agent", agent=name, kind="unbacked_claim", action="rewrite",
              claims=[c.dump() for c in still], reply=fixed)  # fmt: skip
        return AIMessage(content=fixed, response_metadata=again.response_metadata), usage
    emit(
        "correction",
        node="agent",
        agent=name,
        kind="unbacked_claim",
        action="answered_again",
        reply=text[:500],
    )
    return again, usage


def _answer_without_tools(name: str, ask: Any) -> tuple[AIMessage, dict[str, Any]]:
    """The model's answer with no tools offered or listed (with them still in the prompt the 0.5B wrote 7 of 8
    answers about calling them)."""
    result = ask([], GenerationOptions(answer_only=True))
    ai, _ = callcheck.check(result.message, [])
    return ai, usage_update(name, result)


def _ungrounded(services: Services, ai: AIMessage, state: AssistantState) -> list[tuple[Any, str]]:
    """The calls of ``ai`` that find no ground in the conversation (the messages the model read and the notes
    recalled for this turn): an argument copied from the tool's description, or a tool's own rule (``Tool.
    ungrounded``); each with the reason."""
    out: list[tuple[Any, str]] = []
    conversation: str | None = None
    for call in ai.tool_calls:
        found = services.tool(call["name"])
        if not isinstance(found, Tool):
            continue
        if conversation is None:
            parts = [str(m.content) for m in window(state.get("messages", []))]
            conversation = "\n".join(parts + [str(h.get("text", "")) for h in state.get("recalled") or []])
        why = found.ungrounded(call["args"], conversation)
        if not why and side_effecting(call["name"], found):
            made_up = invented_identifier(call["args"], conversation)
            if made_up:
                why = f"{made_up!r} looks like an account, number or address, and it appears nowhere in the conversation"
        if why:
            out.append((call, why))
    return out
