"""``sensorium chat``: the terminal REPL (prompt_toolkit for input, rich for output).

- :mod:`.commands` parses what the user types (slash commands, pasted file paths)
- :mod:`.render` shows a turn's events as they stream (tokens, plan, agents, tool calls and results)
- :mod:`.approvals` asks approve / edit / reject for each pending tool call
- :mod:`.lineinput` reads lines (prompt_toolkit with a history file on a terminal, stdin otherwise)
- :mod:`.loading` loads the team, its models and the user's ``--tool`` tools before the first turn
- :mod:`.app` the loop: turns, threads, slash commands, Ctrl-C handling
"""
