"""``sensorium chat``: the terminal REPL (prompt_toolkit for input, rich for output).

- :mod:`.commands` parses what the user types (slash commands, pasted file paths)
- :mod:`.render` shows a turn's events as they stream (tokens, plan, agents, tool calls and results)
- :mod:`.approvals` asks approve / edit / reject for each pending tool call
- :mod:`.app` the loop: threads, history, model loading, Ctrl-C handling
"""
