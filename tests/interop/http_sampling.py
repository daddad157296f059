#!/usr/bin/env python3
"""A 2025-era Python `mcp` SDK session over the gateway's HTTP listener, with a sampling
callback, asks the fixture backend to sample: the request must come back to this session
(whose call caused it), not to the stdio client that is also connected.

Usage: http_sampling.py URL
Prints one JSON line of findings; exits 1 with the failed check on stderr.
"""
from __future__ import annotations

import asyncio
import sys

import mcp_types as types
from scenario import report
from mcp import Client

from http_clients import check, wait_ready


async def run(url: str) -> dict:
    asked: list[str] = []

    async def sampling(context, params):
        asked.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="from the http session"),
            model="m",
        )

    async with Client(url, mode="legacy", read_timeout_seconds=60, sampling_callback=sampling) as c:
        await wait_ready(c, "fixture")
        r = await c.call_tool("gateway_invoke", {"server": "fixture", "tool": "sample",
                                                 "arguments": {"prompt": "asked over http"}})
        text = r.content[0].text if r.content else ""
        check("from the http session" in text, "the http session answered its own call's request", r)
        check(asked == ["asked over http"], "the http session's callback saw the prompt", asked)
    return {"ok": True}


def main() -> int:
    return report(run(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(main())
