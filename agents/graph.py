"""The turn as a LangGraph state machine.

    input_rails -> perceive -> recall -> plan -> route -> agent <-> approve -> tools
                                                           |  ^
                                                           v  | (next plan step)
                                                         executor -> respond -> output_rails -> remember

Perception, memory and rails are services given to :func:`build_graph`; a missing or failing one is recorded in
the event stream and the turn goes on. Approval: ``approve`` is the only node that calls ``interrupt()`` (once per
run of the node: it loops to itself until every risky call is decided), and it has no side effects, so its
re-run on resume is harmless (langgraph#7780, #6208). Each tool call then runs as its own task (``Send``): a
finished call's result is written to the checkpoint when it finishes, so a crash in a parallel sibling does not
run it again on resume.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send, interrupt

from sensorium.tools.base import Tool

from . import planner
from .approval import ApprovalRequest, Decision
from .chat import ChatModel, ChatResult, GenerationOptions
from .emit import emit, event_writer
from .history import after_step_start, last_ai, last_human, unique_call_ids, window
from .loopguard import HANDOFF_PREFIX, call_signature, only_repeats, results_by_call, tool_rounds
from .rails import AllowAll, RailDecision, Rails, Stage, check_output
from .state import STATE_KEYS, AssistantState
from .streamgate import StreamGate, gate_check
from .team import AgentSpec, Team


class UndeclaredStateKeyError(KeyError):
    """A node returned a key that AssistantState does not declare (LangGraph would drop it silently)."""


@dataclass
class Services:
    """What the nodes use: the team, models, tools and the other issues' seams (any may be absent)."""

    team: Team
    load_model: Callable[[str], ChatModel]
    resolve_tool: Callable[[str], Tool]
    perceiver: Any = None
    memory: Any = None
    rails: Rails = field(default_factory=AllowAll)
    recall_k: int = 3
    remember_turns: bool = True
    _models: dict[str, ChatModel] = field(default_factory=dict)
    _tools: dict[str, Tool | Exception] = field(default_factory=dict)

    def model(self, spec: Any) -> ChatModel:
        if not isinstance(spec, str):
            return spec  # a ChatModel object
        if spec not in self._models:
            self._models[spec] = self.load_model(spec)
        return self._models[spec]

    def tool(self, name: str) -> Tool | Exception:
        if name not in self._tools:
            try:
                self._tools[name] = self.resolve_tool(name)
            except Exception as exc:  # a missing extra or a tool not built yet: the agent works without it
                self._tools[name] = exc
        return self._tools[name]


def _rail_event(node: str, stage: str, decision: RailDecision, **where: Any) -> None:
    """Every guardrail decision, allow included, with what each rail found (AllowAll's no-op is not logged)."""
    if decision.rail == "none":
        return
    emit("rail", node=node, rail=decision.rail, stage=stage, action=decision.action, reason=decision.reason,
          details=decision.details, **where)  # fmt: skip


def _checked(name: str, fn: Callable[..., dict[str, Any] | None]) -> Callable[..., dict[str, Any]]:
    """Wrap a node: node_started/node_finished events and a check that it returns only declared keys."""

    def node(state: Any) -> dict[str, Any]:
        writer = event_writer()
        writer({"type": "node_started", "node": name, "agent": None, "data": {}})
        start = time.perf_counter()
        try:
            out = fn(state) or {}
        finally:
            writer(
                {
                    "type": "node_finished",
                    "node": name,
                    "agent": None,
                    "data": {"elapsed_s": round(time.perf_counter() - start, 6)},
                }
            )
        extra = set(out) - STATE_KEYS
        if extra:
            raise UndeclaredStateKeyError(f"node {name!r} returned undeclared state keys {sorted(extra)}")
        return out

    node.__name__ = name
    return node


def _usage_update(agent: str, result: ChatResult) -> dict[str, dict[str, float]]:
    u = result.usage
    return {
        agent: {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "model_s": round(u.total_s, 6),
            "calls": 1,
        }
    }


def _call_model(
    node: str,
    agent: str,
    model: ChatModel,
    messages: list[BaseMessage],
    *,
    tools: list[dict[str, Any]] | None = None,
    response_format: dict[str, Any] | None = None,
    options: GenerationOptions | None = None,
    stream_check: Callable[[str], bool] | None = None,
) -> ChatResult:
    """One model call, its tokens streamed as events (through a :class:`StreamGate` when ``stream_check`` is
    given) and its exact prompt and reply logged."""
    writer = event_writer()

    def release(text: str) -> None:
        writer({"type": "token", "node": node, "agent": agent, "data": {"text": text}})

    gate = StreamGate(stream_check, release) if stream_check is not None else None
    result = model.chat(
        messages,
        tools=tools or None,
        response_format=response_format,
        options=options,
        on_token=gate.feed if gate is not None else release,
    )
    if gate is not None:
        gate.finish()
    writer(
        {
            "type": "model_call",
            "node": node,
            "agent": agent,
            "data": {
                "model": result.model or getattr(model, "name", ""),
                "prompt": result.prompt,
                "reply": result.reply,
                "usage": result.usage.model_dump(),
            },
        }
    )
    return result


def build_graph(services: Services, checkpointer: BaseCheckpointSaver | None = None):
    """Compile the assistant graph over ``services``."""
    team = services.team
    prompts = planner.prompts()

    # -- rails, perception, memory ------------------------------------------------------------------------
    def input_rails(state: AssistantState) -> dict[str, Any]:
        text = state.get("input", "")
        try:
            decision = services.rails.check(text, "input")
        except Exception as exc:
            emit("error", node="input_rails", message=f"input rail failed: {exc}", kind="rail")
            return {}
        _rail_event("input_rails", "input", decision)
        if decision.action == "block":
            reply = decision.text if decision.text and decision.text != text else decision.reason
            reply = reply or "I can't help with that request."
            return {
                "blocked": decision.reason or "blocked",
                "messages": [AIMessage(content=reply, name="rails")],
            }
        if decision.action == "mask":
            human = last_human(state.get("messages", []))
            if human is not None:
                return {
                    "input": decision.text,
                    "messages": [HumanMessage(content=decision.text, id=human.id)],
                }
            return {"input": decision.text}
        return {}

    def _checked_percept(dump: dict[str, Any]) -> dict[str, Any]:
        """A percept's text through the rails before the model reads it or anything records it: a transcript is
        the user's words (the input stage: a spoken jailbreak is refused, a spoken card number masked); a caption
        or a file's text is a document, where injections arrive (withheld)."""
        if not dump.get("text"):
            return dump
        stage: Stage = "input" if dump["kind"] == "speech" else "tool_result"
        try:
            decision = services.rails.check(dump["text"], stage)
        except Exception as exc:
            emit("error", node="perceive", message=f"rail on {dump['source']} failed: {exc}", kind="rail")
            return dump
        _rail_event("perceive", stage, decision, source=dump["source"])
        if decision.action == "allow":
            return dump
        # A transcript's segments and an image's caption would repeat what was masked or withheld.
        dump = dump | {"data": {k: v for k, v in dump["data"].items() if k not in ("segments", "caption")}}
        if decision.action == "mask":
            return dump | {"text": decision.text}
        if stage == "input":
            refusal = decision.text if decision.text and decision.text != dump["text"] else decision.reason
            return dump | {"text": "", "error": "refused by the guardrails", "blocked": decision.reason or "blocked",
                           "refusal": refusal or "I can't help with that request."}  # fmt: skip
        return dump | {"text": "", "error": f"withheld by the guardrails: {decision.reason}"}

    def perceive(state: AssistantState) -> dict[str, Any]:
        attachments = state.get("attachments") or []
        if not attachments:
            return {}
        from sensorium.multimodal.base import Attachment, Percept

        percepts = []
        for raw in attachments:
            att = Attachment.model_validate(raw)
            if services.perceiver is None:
                percept = Percept(kind="speech" if att.kind == "audio" else att.kind, source=att.path,
                                  error="perception is not available (no perceiver configured)")  # fmt: skip
            else:
                try:
                    percept = services.perceiver.perceive(att)
                except Exception as exc:  # a broken sense never kills the turn
                    percept = Percept(kind="speech" if att.kind == "audio" else att.kind, source=att.path,
                                      error=f"{type(exc).__name__}: {exc}")  # fmt: skip
            dump = _checked_percept(percept.model_dump(mode="json"))
            if dump.get("blocked"):  # what the user said is refused as if typed: the turn ends here
                emit("percept", node="perceive", **{k: v for k, v in dump.items() if k not in ("data", "blocked")},
                      data={})  # fmt: skip
                kept = {k: v for k, v in dump.items() if k not in ("blocked", "refusal")}
                return {"percepts": [kept], "blocked": dump["blocked"],
                        "messages": [AIMessage(content=dump["refusal"], name="rails")]}  # fmt: skip
            emit("percept", node="perceive", **{k: v for k, v in dump.items() if k != "data"},
                  data=_short(dump.get("data")))  # fmt: skip
            percepts.append(dump)
        notes = []
        for p in percepts:
            label = {"speech": "audio", "image": "image"}.get(p["kind"], "file")
            what = p["text"] or (
                f"(could not perceive: {p['error']})" if p.get("error") else "(nothing found)"
            )
            notes.append(f"[Attached {label} {p['source']}: {what}]")
        out: dict[str, Any] = {"percepts": percepts}
        human = last_human(state.get("messages", []))
        if human is not None:
            content = (str(human.content) + "\n\n" + "\n".join(notes)).strip()
            out["messages"] = [HumanMessage(content=content, id=human.id)]
        return out

    def recall(state: AssistantState) -> dict[str, Any]:
        if services.memory is None or not state.get("input"):
            return {}
        try:
            hits = services.memory.search(state["input"], k=services.recall_k)
        except Exception as exc:
            emit("error", node="recall", message=f"memory search failed: {exc}", kind="memory")
            return {}
        kept = []
        for hit in hits:
            try:
                decision = services.rails.check(hit.text, "retrieval")
            except Exception:
                decision = None
            if decision is not None:
                _rail_event("recall", "retrieval", decision, id=hit.id)
            if decision is not None and decision.action == "block":
                continue
            dump = hit.model_dump(mode="json")
            if decision is not None and decision.action == "mask":
                dump["text"] = decision.text
            kept.append(dump)
        emit(
            "recall",
            node="recall",
            query=state["input"],
            hits=[{"id": h["id"], "score": h["score"]} for h in kept],
        )
        return {"recalled": kept}

    # -- planning and routing -----------------------------------------------------------------------------
    def plan(state: AssistantState) -> dict[str, Any]:
        text = state.get("input", "")
        if not team.plan or not planner.looks_multistep(text):
            return {}
        tools = sorted({t for a in team.agents for t in a.tools})
        messages = [
            SystemMessage(content=prompts["planner"].format(tools=", ".join(tools))),
            HumanMessage(text),
        ]
        try:
            result = _call_model("plan", "planner", services.model(team.router_model), messages,
                                 response_format=planner.PLAN_SCHEMA)  # fmt: skip
            steps = planner.parse_steps(str(result.message.content))
        except Exception as exc:
            emit(
                "error", node="plan", message=f"planning failed, answering without a plan: {exc}", kind="plan"
            )
            return {}
        new = planner.new_plan(text, steps)
        emit("plan", node="plan", steps=new["steps"])
        return {"plan": new, "usage": _usage_update("planner", result)}

    def routed(agent: str, reason: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        event_writer()(
            {
                "type": "route",
                "node": "route",
                "agent": "supervisor",
                "data": {"agent": agent, "reason": reason},
            }
        )
        return {"active_agent": agent, "route_reason": reason, "usage": usage or {}}

    def route(state: AssistantState) -> dict[str, Any]:
        names = team.names
        if len(names) == 1:
            return {"active_agent": names[0]}
        if team.routing == "first":
            return routed(names[0], "the team routes every request to its first agent")
        candidates = names
        if team.routing == "auto" and any(a.keywords for a in team.agents):
            # A 0.5B supervisor routes worse than keywords do (it copies descriptions): ask it only for ties.
            top, matched = team.keyword_route(state.get("input", ""))
            if not top:
                return routed(names[0], "no specialist's keywords matched; the first agent may hand off")
            if len(top) == 1:
                return routed(top[0], f"keywords: {matched}")
            candidates = top
        listing = "\n".join(
            f"- {a.name}: {a.description or a.role[:80]}" for a in team.agents if a.name in candidates
        )
        schema = {
            "type": "object",
            "properties": {
                "agent": {"type": "string", "enum": candidates},
                "reason": {"type": "string", "maxLength": 200},
            },
            "required": ["agent"],
            "additionalProperties": False,
        }
        human = last_human(state.get("messages", []))
        request = str(human.content) if human is not None else state.get("input", "")
        messages = [
            SystemMessage(content=prompts["supervisor"].format(agents=listing)),
            HumanMessage(request),
        ]
        usage = {}
        try:
            result = _call_model("route", "supervisor", services.model(team.router_model), messages,
                                 response_format=schema)  # fmt: skip
            usage = _usage_update("supervisor", result)
            data = json.loads(str(result.message.content))
            agent, reason = data["agent"], str(data.get("reason", ""))
            if agent not in candidates:
                raise ValueError(f"unknown agent {agent!r}")
        except Exception as exc:
            agent, reason = candidates[0], f"routing failed ({exc}); using {candidates[0]}"
        return routed(agent, reason, usage)

    # -- the agent and its tools --------------------------------------------------------------------------
    def tool_specs(agent: AgentSpec) -> list[dict[str, Any]]:
        specs = []
        for name in agent.tools:
            found = services.tool(name)
            if isinstance(found, Tool):
                specs.append(found.schema)
        for peer in agent.handoffs:
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

    def system_prompt(agent: AgentSpec, state: AssistantState) -> str:
        parts = [agent.role.strip()]
        if state.get("recalled"):
            hits = "\n".join(f"- {h['text']}" for h in state["recalled"])
            parts.append(prompts["context_recall"].format(hits=hits))
        current_plan = state.get("plan")
        step = planner.current(current_plan)
        if current_plan is not None and step is not None:
            parts.append(
                prompts["context_plan"].format(plan=planner.render(current_plan), current=step["id"])
            )
        return "\n\n".join(parts)

    def agent_node(state: AssistantState) -> dict[str, Any]:
        name = state.get("active_agent") or team.agents[0].name
        spec = team[name]
        steps = state.get("steps", 0)
        if steps >= team.max_steps:
            note = prompts["step_limit"].format(steps=steps)
            emit("error", node="agent", agent=name, message=note, kind="step_limit")
            return {"messages": [AIMessage(content=note, name=name)]}
        messages: list[BaseMessage] = [
            SystemMessage(content=system_prompt(spec, state)),
            *window(state.get("messages", [])),
        ]
        tools, options = tool_specs(spec), None
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
        # The reply streams to the user only as fast as the output rails' cheap checks clear it.
        result = _call_model("agent", name, services.model(team.model_for(spec)), messages, tools=tools,
                             options=options, stream_check=gate_check(services.rails, spec.role))  # fmt: skip
        ai = result.message
        ai.name = name
        if ai.id is None:
            ai.id = f"ai-{uuid.uuid4().hex[:12]}"
        unique_call_ids(ai, state.get("messages", []))
        out: dict[str, Any] = {"messages": [ai], "steps": steps + 1, "usage": _usage_update(name, result)}
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

    def after_agent(state: AssistantState) -> str:
        ai = last_ai(state.get("messages", []))
        if ai is None or not ai.tool_calls:
            return "executor"
        if any(c["name"].startswith(HANDOFF_PREFIX) for c in ai.tool_calls):
            return "agent"
        return "approve"

    def pending_requests(state: AssistantState) -> list[ApprovalRequest]:
        ai = last_ai(state.get("messages", []))
        decided = state.get("decisions") or {}
        executed = set(state.get("executed") or [])
        agent = state.get("active_agent", "")
        out = []
        for call in ai.tool_calls if ai else []:
            found = services.tool(call["name"])
            if call["id"] in decided or not isinstance(found, Tool):
                continue
            if call_signature(call["name"], call["args"]) in executed:
                continue  # a repeat of a call that already ran: the loop guard answers it, nobody is asked
            if call["name"] not in team[agent].tools if agent in team.names else True:
                continue  # not allowed: the tools node refuses it without asking anyone
            if found.requires_approval(call["args"]):
                out.append(ApprovalRequest(id=str(call["id"]), name=call["name"], arguments=call["args"], agent=agent,
                                           description=found.description))  # fmt: skip
        return out

    def approve(state: AssistantState) -> dict[str, Any]:
        requests = pending_requests(state)
        if not requests:
            return {}
        # The only interrupt of the graph; nothing above it has side effects, so its re-run on resume is harmless.
        answer = interrupt([r.model_dump(mode="json") for r in requests])
        decisions: dict[str, Any] = {}
        wanted = {r.id: r for r in requests}
        for call_id, raw in dict(answer or {}).items():
            if call_id not in wanted:
                continue
            decision = raw if isinstance(raw, Decision) else Decision.model_validate(raw)
            decisions[call_id] = decision.model_dump(mode="json")
            emit("approval_decided", node="approve", agent=state.get("active_agent"), id=call_id,
                  action=decision.action, arguments=decision.arguments, reason=decision.reason)  # fmt: skip
        return {"decisions": decisions}

    def dispatch(state: AssistantState) -> list[Send] | str:
        if pending_requests(state):
            return "approve"  # some calls still wait for a decision: ask again for those only
        ai = last_ai(state.get("messages", []))
        executed = set(state.get("executed") or [])
        decisions = state.get("decisions") or {}
        sends = []
        earlier: dict[str, str] | None = None
        for call in ai.tool_calls if ai else []:
            signature = call_signature(call["name"], call["args"])
            payload = {
                "call": dict(call),
                "agent": state.get("active_agent") or team.agents[0].name,
                "decision": decisions.get(str(call["id"])),
                "duplicate": signature in executed,  # ran before, or earlier in this same step
            }
            if payload["duplicate"]:
                # A small model forgets a result it already has: the guard's note repeats it.
                if earlier is None:
                    earlier = results_by_call(state.get("messages", []), prompts["loop_guard"])
                payload["earlier"] = earlier.get(
                    signature, "(the same call earlier in this step; see its result)"
                )
            executed.add(signature)
            sends.append(Send("tools", payload))
        return sends or "agent"

    def tools_node(payload: dict[str, Any]) -> dict[str, Any]:
        call, agent = payload["call"], payload["agent"]
        name, args = call["name"], call["args"]
        decision = Decision.model_validate(payload["decision"]) if payload.get("decision") else None
        start = time.perf_counter()
        status, artifacts, executed = "success", [], []
        found = services.tool(name)
        if name not in team[agent].tools:
            text, status = (
                f"Error: {agent} may not use the tool {name!r}; its tools: {list(team[agent].tools)}.",
                "error",
            )
        elif isinstance(found, Exception):
            text, status = f"Error: the tool {name!r} is not available here: {found}", "error"
        elif payload.get("duplicate"):
            text = prompts["loop_guard"].format(result=payload.get("earlier", ""))
        elif decision is not None and decision.action == "reject":
            text = f"The user rejected this call to {name}." + (
                f" Reason: {decision.reason}" if decision.reason else ""
            )
            status = "error"
        else:
            if decision is not None and decision.action == "edit":
                args = dict(decision.arguments or {})
            result = found.invoke(args)
            executed = [call_signature(name, call["args"])]
            text, status = result.content, "error" if result.is_error else "success"
            artifacts = [a.model_dump(mode="json") for a in result.artifacts]
            try:
                checked = services.rails.check(text, "tool_result")
            except Exception:
                checked = None
            if checked is not None:
                _rail_event("tools", "tool_result", checked, id=call["id"], name=name)
            if checked is not None and checked.action != "allow":
                text = (
                    checked.text if checked.action == "mask" else f"[tool result withheld: {checked.reason}]"
                )
        elapsed = time.perf_counter() - start
        emit("tool_result", node="tools", agent=agent, id=call["id"], name=name, content=text,
              is_error=status == "error", artifacts=artifacts, arguments=args, elapsed_s=round(elapsed, 6))  # fmt: skip
        message = ToolMessage(content=text, tool_call_id=call["id"], name=name, status=status,
                              artifact=artifacts or None)  # fmt: skip
        return {
            "messages": [message],
            "executed": executed,
            "usage": {agent: {"tool_s": round(elapsed, 6), "tool_calls": 1}},
        }

    # -- finishing the turn ------------------------------------------------------------------------------
    def executor(state: AssistantState) -> dict[str, Any]:
        current_plan = state.get("plan")
        step = planner.current(current_plan)
        if step is None or state.get("steps", 0) >= team.max_steps:
            return {}
        messages = state.get("messages", [])
        ai = last_ai(messages)
        answer = str(ai.content) if ai else ""
        last_tool = next((m for m in reversed(messages) if isinstance(m, ToolMessage)), None)
        failed = (
            last_tool is not None and last_tool.status == "error" and after_step_start(messages, last_tool)
        )
        if failed and last_tool is not None and current_plan is not None and current_plan["replans"] < 2:
            failure = str(last_tool.content)
            new = replan(state, planner.fail_current(current_plan, failure), failure)
        else:
            new = planner.advance(current_plan, answer)  # type: ignore[arg-type]
        emit("plan", node="executor", steps=new["steps"])
        nxt = planner.current(new)
        if nxt is None:
            return {"plan": new}
        note = HumanMessage(content=prompts["next_step"].format(current=nxt["id"], description=nxt["description"]),
                            name="planner")  # fmt: skip
        return {"plan": new, "messages": [note]}

    def replan(state: AssistantState, failed_plan: Any, failure: str) -> Any:
        messages = [
            SystemMessage(
                content=prompts["replanner"].format(plan=planner.render(failed_plan), failure=failure)
            ),
            HumanMessage(failed_plan["goal"]),
        ]
        try:
            result = _call_model("executor", "planner", services.model(team.router_model), messages,
                                 response_format=planner.PLAN_SCHEMA)  # fmt: skip
            return planner.replace_remaining(failed_plan, planner.parse_steps(str(result.message.content)))
        except Exception as exc:
            emit("error", node="executor", message=f"re-planning failed: {exc}", kind="plan")
            return planner.advance(failed_plan, f"failed: {failure}")

    def after_executor(state: AssistantState) -> str:
        last = state.get("messages", [])[-1:]
        return "agent" if last and isinstance(last[0], HumanMessage) else "respond"

    def respond(state: AssistantState) -> dict[str, Any]:
        ai = last_ai(state.get("messages", []))
        return {"final": str(ai.content) if ai else ""}

    def output_rails(state: AssistantState) -> dict[str, Any]:
        text = state.get("final", "")
        agent = state.get("active_agent")
        out: dict[str, Any] = {}
        if not state.get("blocked"):
            try:
                # The agent's role is what a reply could leak; recalled memory in its prompt is the user's own.
                role = team[agent].role if agent in team.names else ""
                decision = check_output(services.rails, text, role)
            except Exception as exc:
                decision = None
                emit("error", node="output_rails", message=f"output rail failed: {exc}", kind="rail")
            if decision is not None:
                _rail_event("output_rails", "output", decision)
            if decision is not None and decision.action != "allow":
                if decision.action == "mask":
                    text = decision.text
                else:  # the guardrails' refusal when they wrote one, never the blocked text itself
                    refusal = decision.text if decision.text and decision.text != text else ""
                    text = refusal or decision.reason or "I can't share that."
                ai = last_ai(state.get("messages", []))
                if ai is not None:
                    out["messages"] = [AIMessage(content=text, id=ai.id, name=ai.name)]
                out["final"] = text
        emit("message", node="output_rails", agent=agent, content=text)
        return out

    def remember(state: AssistantState) -> dict[str, Any]:
        out = {"turns": state.get("turns", 0) + 1}
        if services.memory is None or not services.remember_turns or state.get("blocked"):
            return out
        text = f"User: {state.get('input', '')}\nAssistant: {state.get('final', '')}"
        try:
            services.memory.add(
                [text], metadata=[{"kind": "exchange", "agent": state.get("active_agent", "")}]
            )
        except Exception as exc:
            emit("error", node="remember", message=f"could not store the exchange: {exc}", kind="memory")
        return out

    graph = StateGraph(AssistantState)
    for name, fn in [
        ("input_rails", input_rails),
        ("perceive", perceive),
        ("recall", recall),
        ("plan", plan),
        ("route", route),
        ("agent", agent_node),
        ("approve", approve),
        ("tools", tools_node),
        ("executor", executor),
        ("respond", respond),
        ("output_rails", output_rails),
        ("remember", remember),
    ]:
        graph.add_node(name, _checked(name, fn))  # type: ignore[arg-type]
    graph.add_edge(START, "input_rails")
    graph.add_conditional_edges(
        "input_rails", lambda s: "respond" if s.get("blocked") else "perceive", ["respond", "perceive"]
    )
    graph.add_conditional_edges(
        "perceive", lambda s: "respond" if s.get("blocked") else "recall", ["respond", "recall"]
    )
    graph.add_edge("recall", "plan")
    graph.add_edge("plan", "route")
    graph.add_edge("route", "agent")
    graph.add_conditional_edges("agent", after_agent, ["executor", "agent", "approve"])
    graph.add_conditional_edges("approve", dispatch, ["approve", "tools", "agent"])
    graph.add_edge("tools", "agent")
    graph.add_conditional_edges("executor", after_executor, ["agent", "respond"])
    graph.add_edge("respond", "output_rails")
    graph.add_edge("output_rails", "remember")
    graph.add_edge("remember", END)
    return graph.compile(checkpointer=checkpointer)


def _short(data: Any) -> Any:
    """Percept data without bulky arrays (embeddings) for the event log."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if not (isinstance(v, list) and len(v) > 32)}
