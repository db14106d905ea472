"""The graph's nodes, by phase of the turn; ``graph.py`` wires them.

- ``guard``: the rails on the user's input, on percepts, and on the reply;
- ``senses``: perception of attachments, recall from memory, remembering the exchange;
- ``planning``: the plan, routing to an agent, the executor that walks the plan, the final reply;
- ``acting``: the agent's model call and the checks on its reply;
- ``tools``: approval of risky calls, and the tool calls.

Each node is a function of the :class:`~sensorium.agents.graph.services.Services` and the state; it returns the state
update (only keys that ``AssistantState`` declares).
"""
