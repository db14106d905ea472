"""Bad and oversize inputs through the CLI and the Python API, each in its own process: exit status, whether a
traceback was printed, seconds and peak RSS. The reference row is a normal small turn in the same kind of process.

    .venv/bin/python bench/bad_inputs.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

API_TURN = """
import sys
from sensorium.agents import AgentSpec, Assistant, Team
from sensorium.agents.brain.backends.scripted import ScriptedChatModel
from sensorium.errors import InputError
text = "x" * int(sys.argv[1])
team = Team([AgentSpec(name="assistant")], model=ScriptedChatModel(["ok"]), plan=False)
a = Assistant(team, memory=False, perceiver=False, rails=False)
try:
    for _ in a.run("t", text):
        pass
except InputError as exc:
    print("error:", str(exc)[:200], file=sys.stderr)
    sys.exit(2)
"""

TOOL_CALL = """
import json, sys
from sensorium.tools.registry import get_tool
arg = sys.argv[2]
result = get_tool(sys.argv[1]).invoke(json.loads(open(arg[1:]).read() if arg.startswith("@") else arg))
print(result.content[:300])
sys.exit(1 if result.is_error else 0)
"""


def _cases(d: Path) -> list[tuple[str, list[str]]]:
    py = sys.executable
    cli = [py, "-m", "sensorium"]
    (d / "huge.yaml").write_text("name: x\nturns:\n" + "  - {user: hello there}\n" * 600_000)  # ~14 MB
    bomb = "steps:\n - &a [x,x,x,x,x,x,x,x,x,x]\n"
    for i, name in enumerate("bcdefgh"):
        prev = "abcdefgh"[i]
        bomb += f" - &{name} [" + ",".join([f"*{prev}"] * 10) + "]\n"
    (d / "bomb.yaml").write_text(bomb)  # ~420 bytes that expand to 10^8 strings
    (d / "uses-bomb.yaml").write_text(
        f"name: x\nmodel: 'scripted:{d / 'bomb.yaml'}'\nturns: [{{user: hi}}]\n"
    )
    (d / "deep.yaml").write_text("name: x\nturns: " + "[" * 100_000 + "]" * 100_000)
    (d / "badutf.yaml").write_bytes(b'name: x\nturns: [{user: "\xff\xfe"}]\n')
    (d / "surrogate.yaml").write_text('name: "\\ud800"\nturns: [{user: hi}]\n')
    (d / "wrongstep.yaml").write_text("name: x\nscript: [{tool_calls: [abc]}]\nturns: [{user: hi}]\n")
    (d / "regex.yaml").write_text(
        "name: x\nscript: ['"
        + "a" * 5000
        + "b']\nturns: [{user: hi}]\nexpect: {answer: [{regex: '^(a+)+$'}]}\n"
    )
    (d / "team.yaml").write_text("agents: [{name: a, tools: [calculater]}]\n")
    wav = d / "cut.wav"
    header = b"RIFF" + (36 + 64000).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
    header += (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16000).to_bytes(4, "little")
    header += (32000).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
    wav.write_bytes(header + b"data" + (64000).to_bytes(4, "little") + b"\x01\x00" * 8000)
    (d / "args.json").write_text(json.dumps({"path": "big.txt", "content": "y" * 20_000_000}))
    ws = d / "home" / "workspace"
    ws.mkdir(parents=True, exist_ok=True)
    if not (ws / "dangling").is_symlink():
        os.symlink(ws / "gone", ws / "dangling")
    return [
        ("reference: a normal turn (API, 20 chars)", [py, "-c", API_TURN, "20"]),
        ("user message of 10 MB (API)", [py, "-c", API_TURN, str(10_000_000)]),
        ("run: 14 MB scenario YAML", [*cli, "run", str(d / "huge.yaml")]),
        ("scripted file: YAML alias bomb (~420 bytes)", [*cli, "run", str(d / "uses-bomb.yaml")]),
        ("run: 100k-deep nesting", [*cli, "run", str(d / "deep.yaml")]),
        ("run: invalid UTF-8", [*cli, "run", str(d / "badutf.yaml")]),
        ("run: lone surrogate", [*cli, "run", str(d / "surrogate.yaml")]),
        ("run: wrong step type", [*cli, "run", str(d / "wrongstep.yaml")]),
        ("run: answer regex ^(a+)+$ on 5,000 chars", [*cli, "run", str(d / "regex.yaml")]),
        ("memory search $'\\xff\\xfe'", [*cli, "memory", "search", os.fsdecode(b"\xff\xfe")]),
        ("chat: team with an unknown tool", [*cli, "chat", "--team", str(d / "team.yaml")]),
        ("transcribe: truncated WAV", [*cli, "transcribe", str(wav)]),
        ("list_files with a dangling symlink", [py, "-c", TOOL_CALL, "list_files", "{}"]),
        ("calculate (9**9999)**9999", [py, "-c", TOOL_CALL, "calculate", '{"expression": "(9**9999)**9999"}']),
        ("write_file with 20 MB of arguments", [py, "-c", TOOL_CALL, "write_file", f"@{d / 'args.json'}"]),
    ]  # fmt: skip


def run_case(argv: list[str], env: dict[str, str], timeout: float) -> dict[str, object]:
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        status, rusage = 0, None
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return {
        "exit": proc.returncode,
        "traceback": "Traceback" in stderr,
        "seconds": round(time.perf_counter() - start, 2),
        "peak_rss_mb": round(rusage.ru_maxrss / 1024, 1) if rusage else None,
        "message": " ".join(stderr.split())[-160:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    d = Path(tempfile.mkdtemp(prefix="bad-inputs-"))
    env = {**os.environ, "SENSORIUM_HOME": str(d / "home"), "SENSORIUM_RAILS": "off", "HF_HUB_OFFLINE": "1"}
    rows = {}
    for name, cmd in _cases(d):
        rows[name] = run_case(cmd, env, args.timeout)
        r = rows[name]
        print(f"{name:45} exit {r['exit']:>4}  traceback {'YES' if r['traceback'] else 'no ':3}  "
              f"{r['seconds']:6.2f} s  {r['peak_rss_mb']:7.1f} MB  {r['message'][-90:]}", flush=True)  # fmt: skip
    tracebacks = sum(1 for r in rows.values() if r["traceback"])
    print(json.dumps({"tracebacks": tracebacks, "cases": len(rows)}, indent=2))
    return 0 if tracebacks == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
