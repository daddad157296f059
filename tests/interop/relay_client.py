#!/usr/bin/env python3
"""Server→client requests through the mcp-gateway binary, driven by the official Python `mcp`
SDK client with real sampling, elicitation and roots callbacks: server-everything's trigger-* and
get-roots-list tools, server-filesystem started with no directories (its allowed directories are
the client's roots), and two fixture backends asking for sampling at once.

In `legacy` era the client speaks initialize-era MCP and the gateway sends it the backends'
requests; in `modern` era it speaks 2026-07-28 and gets them inside InputRequiredResults, its
SDK retrying each call with the answers. server-filesystem asks for roots when it starts, outside
any call, which a 2026-07-28 client cannot be asked: that part is legacy only.

Usage: relay_client.py GATEWAY_BIN CONFIG {meta|flat} ROOT_A ROOT_B {legacy|modern}

Prints one JSON line of findings; exits 1 with the failed check on stderr.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import mcp_types as types
from scenario import report
from mcp import Client, StdioServerParameters

from python_client import check, dump, wait_ready

EVERYTHING_TOOLS = 17


class Callbacks:
    """The client's side: what the user's model and the user would answer."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = roots
        self.sampled: list[str] = []
        self.in_flight = 0
        self.most_at_once = 0
        self.elicit_answer = "accept"
        self.elicited: list[dict] = []

    async def sampling(self, context, params: types.CreateMessageRequestParams):
        content = params.messages[0].content
        blocks = content if isinstance(content, list) else [content]
        prompt = " ".join(getattr(b, "text", "") for b in blocks)
        self.sampled.append(prompt)
        self.in_flight += 1
        self.most_at_once = max(self.most_at_once, self.in_flight)
        try:
            # The slow one is asked first and answered last: answers cross on the wire.
            await asyncio.sleep(1.5 if "slow" in prompt else 0.1)
        finally:
            self.in_flight -= 1
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"model says: answer to [{prompt}]"),
            model="relay-test-model",
            stop_reason="endTurn",
        )

    async def elicitation(self, context, params):
        self.elicited.append(params.model_dump(by_alias=True, exclude_none=True, mode="json"))
        if self.elicit_answer == "decline":
            return types.ElicitResult(action="decline")
        if getattr(params, "mode", None) == "url":
            return types.ElicitResult(action="accept")
        return types.ElicitResult(action="accept", content={"name": "Ada Lovelace", "check": True, "integer": 7})

    async def list_roots(self, context):
        return types.ListRootsResult(
            roots=[types.Root(uri=f"file://{r}", name=os.path.basename(r)) for r in self.roots]
        )


def texts(result: dict) -> str:
    return "\n".join(b.get("text", "") for b in result.get("content", []))


async def run(gateway: str, config: str, surface: str, root_a: str, root_b: str, era: str) -> dict:
    out: dict = {"surface": surface, "era": era}
    cb = Callbacks([root_a])
    params = StdioServerParameters(command=gateway, args=["serve", "--config", config])
    async with Client(
        params,
        mode="legacy" if era == "legacy" else "2026-07-28",
        read_timeout_seconds=60,
        sampling_callback=cb.sampling,
        elicitation_callback=cb.elicitation,
        list_roots_callback=cb.list_roots,
    ) as gw:
        servers = await wait_ready(gw, ["everything", "fa", "fb"] + (["filesystem"] if era == "legacy" else []))
        listed = [t.name for t in (await gw.list_tools()).tools]

        if surface == "meta":
            async def call(server: str, tool: str, args: dict) -> dict:
                return dump(await gw.call_tool("gateway_invoke", {"server": server, "tool": tool, "arguments": args}))

            # The conditional tools appear once the backend was told what the client can do;
            # a reconnect or a list change may still be landing, so wait for the count.
            deadline = time.monotonic() + 30
            while servers["everything"]["tools_count"] != EVERYTHING_TOOLS:
                check(time.monotonic() < deadline, "everything tool count", servers["everything"])
                await asyncio.sleep(0.2)
                servers = await wait_ready(gw, ["everything"])
            out["everything_tools"] = servers["everything"]["tools_count"]
        else:
            async def call(server: str, tool: str, args: dict) -> dict:
                return dump(await gw.call_tool(f"{server}__{tool}", args))

            deadline = time.monotonic() + 30
            while len([n for n in listed if n.startswith("everything__")]) != EVERYTHING_TOOLS:
                check(time.monotonic() < deadline, "everything tools listed", listed)
                await asyncio.sleep(0.2)
                listed = [t.name for t in (await gw.list_tools()).tools]
            out["everything_tools"] = len([n for n in listed if n.startswith("everything__")])
        everything_tools = [t["name"] for t in (await gw.call_tool(
            "gateway_list_tools", {"server": "everything"})).structured_content["tools"]]
        for name in ["trigger-sampling-request", "trigger-elicitation-request", "trigger-url-elicitation",
                     "get-roots-list", "simulate-research-query"]:
            check(name in everything_tools, "conditional tool listed", (name, everything_tools))

        # Sampling: the backend gets the text the client's callback produced.
        sampled = await call("everything", "trigger-sampling-request", {"prompt": "name a colour"})
        check("model says: answer to [" in texts(sampled) and "name a colour" in texts(sampled),
              "sampling result reaches the backend", sampled)
        check(any("name a colour" in p for p in cb.sampled), "the client's callback saw the prompt", cb.sampled)

        # Elicitation, form mode: accepted content, then a decline seen as a decline.
        accepted = await call("everything", "trigger-elicitation-request", {})
        check("User provided the requested information" in texts(accepted), "elicitation accepted", accepted)
        check("- Name: Ada Lovelace" in texts(accepted), "accepted content reaches the backend", accepted)
        check("- Favorite Integer: 7" in texts(accepted), "accepted content reaches the backend", accepted)
        form = cb.elicited[-1]
        check("requestedSchema" in form and "untitledMultipleSelectEnum" in json.dumps(form),
              "the backend's form schema reaches the client whole", form)
        cb.elicit_answer = "decline"
        declined = await call("everything", "trigger-elicitation-request", {})
        check("User declined" in texts(declined), "elicitation declined", declined)
        check('"action": "decline"' in texts(declined), "decline passed on as a decline", declined)
        cb.elicit_answer = "accept"

        # Elicitation, URL mode.
        url = await call("everything", "trigger-url-elicitation",
                         {"url": "https://example.com/consent", "message": "Open to consent"})
        check("User completed the URL elicitation flow" in texts(url), "url elicitation accepted", url)
        check(cb.elicited[-1].get("mode") == "url" and cb.elicited[-1].get("url") == "https://example.com/consent",
              "url elicitation reaches the client", cb.elicited[-1])

        # Roots: the client's own.
        roots = await call("everything", "get-roots-list", {})
        check(f"file://{root_a}" in texts(roots), "get-roots-list returns the client's roots", roots)

        if era == "legacy":
            out["filesystem_roots"] = await filesystem_follows_roots(call, gw, cb, root_a, root_b)

        # Two backends asking at once: each gets its own answer.
        cb.most_at_once = 0
        slow, quick = await asyncio.gather(
            call("fa", "sample", {"prompt": "slow alpha"}),
            call("fb", "sample", {"prompt": "quick beta"}),
        )
        check("answer to [slow alpha]" in texts(slow) and "beta" not in texts(slow), "fa got its own answer", slow)
        check("answer to [quick beta]" in texts(quick) and "alpha" not in texts(quick), "fb got its own answer", quick)
        check(cb.most_at_once == 2, "both sampling requests were in flight at once", cb.most_at_once)
        out["ok"] = True
    return out


async def filesystem_follows_roots(call, gw, cb: Callbacks, root_a: str, root_b: str) -> list[str]:
    """server-filesystem started without directories serves the client's roots, and follows
    them when they change."""
    async def allowed() -> str:
        return texts(await call("filesystem", "list_allowed_directories", {}))

    first = await allowed()
    check(root_a in first and root_b not in first, "filesystem serves the client's roots", first)
    cb.roots = [root_b]
    await gw.session.send_roots_list_changed()
    deadline = time.monotonic() + 20
    while True:
        now = await allowed()
        if root_b in now and root_a not in now:
            return [first.strip(), now.strip()]
        check(time.monotonic() < deadline, "filesystem follows roots/list_changed", now)
        await asyncio.sleep(0.2)


def main() -> int:
    gateway, config, surface, root_a, root_b, era = sys.argv[1:7]
    return report(run(gateway, config, surface, root_a, root_b, era))


if __name__ == "__main__":
    sys.exit(main())
