#!/usr/bin/env python3
"""Several Python `mcp` SDK clients at once over the gateway's HTTP listener.

Usage: http_clients.py URL

Three clients connect at the same time: two 2025-era sessions (mode "legacy") and one
2026-07-28 stateless client (mode "auto"). Each calls the fixture backend's `progress` tool
with its own step count, concurrently. The SDK numbers requests the same way in every
client, so all three use the same progress token: a gateway that sent one session's
progress to another would show up as extra or missing steps. Prints one JSON line of
findings; exits 1 with the failed check on stderr.
"""
from __future__ import annotations

import asyncio
import sys

from scenario import report
from mcp import Client


class Failed(Exception):
    pass


def check(cond: bool, what: str, detail: object = "") -> None:
    if not cond:
        raise Failed(f"{what}: {detail}")


async def wait_ready(c: Client, name: str) -> None:
    for _ in range(600):
        r = await c.call_tool("gateway_list_servers", {})
        states = {s["name"]: s["state"] for s in r.structured_content["servers"]}
        check(states.get(name) != "failed", "backend failed", states)
        if states.get(name) == "ready":
            return
        await asyncio.sleep(0.1)
    raise Failed("backend not ready")


async def one(url: str, mode: str, steps: int, ready: asyncio.Barrier) -> dict:
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(url, mode=mode, read_timeout_seconds=60) as c:
        await wait_ready(c, "fixture")
        # All three calls run at the same time, so their progress interleaves on the backend.
        await ready.wait()
        r = await c.call_tool(
            "gateway_invoke",
            {"server": "fixture", "tool": "progress", "arguments": {"steps": steps, "interval_ms": 30}},
            progress_callback=on_progress,
        )
        text = r.content[0].text if r.content else ""
        check(text == "done", f"{mode} call result", r)
        return {"mode": mode, "protocol": c.protocol_version, "steps": steps, "progress": seen}


async def run(url: str) -> dict:
    ready = asyncio.Barrier(3)
    results = await asyncio.gather(
        one(url, "legacy", 3, ready),
        one(url, "legacy", 5, ready),
        one(url, "auto", 4, ready),
    )
    for r in results:
        want = [float(i) for i in range(1, r["steps"] + 1)]
        check(r["progress"] == want, f"{r['mode']} client got only its own progress, in order", r)
    return {"ok": True, "clients": results}


def main() -> int:
    return report(run(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(main())
