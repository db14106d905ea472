"""Work done ahead of the turn that needs it, e.g. in a background thread while the user types: loading what a
first turn would wait for (:func:`warm_up`), and the rails' check of what a turn kept in memory, which later turns
recall (:func:`precheck_recall`). Both only save time: a turn that finds the work undone does it itself."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.messages import HumanMessage

from ..brain.chat import PrefixCaching
from .services import Services, Warmable


def warm_up(services: Services) -> None:
    """Load the memory embedder, the guardrails' models and, on backends that cache prompts, the first agent's
    system prompt and tool schemas; a part that fails is skipped."""
    from langchain_core.messages import SystemMessage

    from .history import system_prompt
    from .nodes.acting import tool_specs

    s = services
    steps: list[Callable[[], None]] = []
    for seam in (s.memory, s.rails):
        if isinstance(seam, Warmable):
            steps.append(seam.warm_up)
    agent = s.team.agents[0]

    def prefix() -> None:
        model = s.model(s.team.model_for(agent))
        if isinstance(model, PrefixCaching):
            system = system_prompt(agent.role, spotlight=s.spotlight)
            model.warm_prefix([SystemMessage(content=system), HumanMessage("hello")], tool_specs(s, agent))

    for step in [prefix, *steps]:
        try:
            step()
        except Exception:
            continue


def precheck_recall(
    services: Services,
    values: Mapping[str, Any],
    thread_id: str,
    submit: Callable[[Callable[[], Any]], object] | None = None,
) -> None:
    """Check, as retrieved documents, what the turn in ``values`` (a thread's state) kept in memory: through
    ``submit`` or at once. Nothing for a turn without input or one the rails refused."""
    from .nodes.senses import to_keep

    if not values.get("input") or values.get("blocked"):
        return
    texts = [item.text for item in to_keep(values, thread_id)]  # before the next turn changes the state
    if not texts:
        return

    def check() -> None:
        for text in texts:
            services.rails.check(text, "retrieval")

    if submit is None:
        check()
    else:
        submit(check)
