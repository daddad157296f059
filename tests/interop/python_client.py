#!/usr/bin/env python3
"""Drive the mcp-gateway binary with the official Python `mcp` SDK client (2.x), the way a
real AI client would, against real third-party backends: server-everything, server-filesystem
(both via npx) and mcp-server-time (PyPI).

Usage: python_client.py GATEWAY_BIN CONFIG {meta|flat} {auto|legacy} FS_DIR

Every check compares what arrives through the gateway with what the same backend returns
over a direct SDK connection, so "unchanged" means byte-for-byte equal after parsing.
Prints one JSON line of findings; exits 1 with the failed check on stderr.
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import time

import mcp_types as types
from scenario import report
from mcp import Client, StdioServerParameters

PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers")
EVERYTHING = StdioServerParameters(command="npx", args=["--no-install", "@modelcontextprotocol/server-everything"], cwd=PEERS)


class Failed(Exception):
    pass


def check(cond: bool, what: str, detail: object = "") -> None:
    if not cond:
        raise Failed(f"{what}: {detail}")


def dump(result: types.CallToolResult) -> dict:
    d = result.model_dump(by_alias=True, exclude_none=True, mode="json")
    d.pop("resultType", None)  # era-dependent envelope field, not part of the result
    d.pop("_meta", None)
    return d


async def direct(params: StdioServerParameters, tool: str, args: dict) -> dict:
    async with Client(params, mode="legacy") as c:
        return dump(await c.call_tool(tool, args))


async def wait_ready(gw: Client, names: list[str], limit: float = 120.0) -> dict:
    deadline = time.monotonic() + limit
    while True:
        r = await gw.call_tool("gateway_list_servers", {})
        servers = {s["name"]: s for s in r.structured_content["servers"]}
        if all(servers.get(n, {}).get("state") == "ready" for n in names):
            return servers
        failed = [s for s in servers.values() if s["state"] == "failed"]
        check(not failed, "backend failed", failed)
        check(time.monotonic() < deadline, "backends not ready in time", servers)
        await asyncio.sleep(0.2)


async def run(gateway: str, config: str, surface: str, mode: str, fs_dir: str) -> dict:
    out: dict = {"surface": surface, "mode": mode}
    params = StdioServerParameters(command=gateway, args=["serve", "--config", config])
    t0 = time.monotonic()
    async with Client(params, mode=mode, read_timeout_seconds=60) as gw:
        out["protocol_version"] = gw.protocol_version
        out["connect_s"] = round(time.monotonic() - t0, 3)
        servers = await wait_ready(gw, ["everything", "filesystem", "time"])
        out["tool_counts"] = {n: s["tools_count"] for n, s in servers.items()}
        listed = [t.name for t in (await gw.list_tools()).tools]
        out["listed"] = len(listed)

        if surface == "meta":
            check(listed == ["gateway_list_servers", "gateway_list_tools", "gateway_search_tools", "gateway_invoke"],
                  "meta surface", listed)

            async def call(server: str, tool: str, args: dict) -> dict:
                return dump(await gw.call_tool("gateway_invoke", {"server": server, "tool": tool, "arguments": args}))

            found = await gw.call_tool("gateway_search_tools", {"query": "what time is it in Tokyo"})
            top = [(m["server"], m["tool"]) for m in found.structured_content["matches"][:3]]
            check(("time", "get_current_time") in top, "search: current time", top)
            match = next(m for m in found.structured_content["matches"] if m["tool"] == "get_current_time")
            check("timezone" in json.dumps(match["input_schema"]), "search result carries the input schema", match)
            found = await gw.call_tool("gateway_search_tools", {"query": "read a text file", "server": "filesystem"})
            names = [m["tool"] for m in found.structured_content["matches"][:3]]
            check("read_text_file" in names, "search: read a text file", names)
            check(all(m["server"] == "filesystem" for m in found.structured_content["matches"]), "server filter")
            found = await gw.call_tool("gateway_search_tools", {"query": "echo back a message"})
            top = [(m["server"], m["tool"]) for m in found.structured_content["matches"][:5]]
            check(("everything", "echo") in top, "search: echo", top)
        else:
            for name in ["everything__echo", "everything__get-tiny-image", "filesystem__read_text_file",
                         "time__get_current_time", "gateway_search_tools"]:
                check(name in listed, "flat tool listed", name)

            async def call(server: str, tool: str, args: dict) -> dict:
                return dump(await gw.call_tool(f"{server}__{tool}", args))

        echo = await call("everything", "echo", {"message": "hello through the gateway"})
        check(echo["content"] == [{"type": "text", "text": "Echo: hello through the gateway"}], "echo", echo)

        image = await call("everything", "get-tiny-image", {})
        blocks = [b for b in image["content"] if b["type"] == "image"]
        check(len(blocks) == 1 and blocks[0]["mimeType"] == "image/png", "one png image block", image)
        check(base64.b64decode(blocks[0]["data"])[:8] == b"\x89PNG\r\n\x1a\n", "image data is a PNG")
        check(image == await direct(EVERYTHING, "get-tiny-image", {}), "image result unchanged")

        structured = await call("everything", "get-structured-content", {"location": "Chicago"})
        check(isinstance(structured.get("structuredContent"), dict), "structuredContent present", structured)
        check(structured == await direct(EVERYTHING, "get-structured-content", {"location": "Chicago"}),
              "structured result unchanged")

        failing = await call("time", "get_current_time", {"timezone": "Not/AZone"})
        check(failing.get("isError") is True, "failing call is isError", failing)

        now = await call("time", "get_current_time", {"timezone": "Asia/Tokyo"})
        check(now.get("isError") is not True and "Asia/Tokyo" in json.dumps(now), "time call", now)

        path = os.path.join(fs_dir, "note.txt")
        read = await call("filesystem", "read_text_file", {"path": path})
        check("written by the interop test" in json.dumps(read), "filesystem read", read)

        # Resources, prompts and completion pass through, URIs and names namespaced.
        def plain(result) -> dict:
            d = result.model_dump(by_alias=True, exclude_none=True, mode="json")
            for key in ("resultType", "_meta", "ttlMs", "cacheScope"):
                d.pop(key, None)
            return d

        resources = (await gw.list_resources()).resources
        check(len(resources) > 0, "resources listed")
        check(all(str(r.uri).startswith("everything+") for r in resources), "resource URIs namespaced")
        templates = (await gw.list_resource_templates()).resource_templates
        check(len(templates) > 0, "templates listed")
        uri = "demo://resource/static/document/architecture.md"
        got = plain(await gw.read_resource(f"everything+{uri}"))
        prompts = [p.name for p in (await gw.list_prompts()).prompts]
        check("everything__args-prompt" in prompts, "prompts listed", prompts)
        pgot = plain(await gw.get_prompt("everything__args-prompt", {"city": "Paris"}))
        # A resource from a template, and completion of a prompt argument and of a template
        # variable: the references un-namespaced on the way to the backend.
        dynamic = "demo://resource/dynamic/text/3"
        tgot = plain(await gw.read_resource(f"everything+{dynamic}"))
        template = "demo://resource/dynamic/text/{resourceId}"
        cgot = plain(await gw.complete(types.PromptReference(type="ref/prompt", name="everything__completable-prompt"),
                                       {"name": "department", "value": "E"}))
        rgot = plain(await gw.complete(types.ResourceTemplateReference(type="ref/resource", uri=f"everything+{template}"),
                                       {"name": "resourceId", "value": "1"}))
        # A resource_link a tool returns reads back through the gateway.
        linked = await call("everything", "get-resource-links", {"count": 1})
        links = [b for b in linked["content"] if b["type"] == "resource_link"]
        check(links and links[0]["uri"].startswith("everything+demo://"), "resource_link namespaced", linked)
        lgot = plain(await gw.read_resource(links[0]["uri"]))
        async with Client(EVERYTHING, mode="legacy") as c:
            want = plain(await c.read_resource(uri))
            pwant = plain(await c.get_prompt("args-prompt", {"city": "Paris"}))
            twant = plain(await c.read_resource(dynamic))
            cwant = plain(await c.complete(types.PromptReference(type="ref/prompt", name="completable-prompt"),
                                           {"name": "department", "value": "E"}))
            rwant = plain(await c.complete(types.ResourceTemplateReference(type="ref/resource", uri=template),
                                           {"name": "resourceId", "value": "1"}))
            lwant = plain(await c.read_resource(links[0]["uri"].removeprefix("everything+")))
        for block in twant["contents"] + lwant["contents"]:
            block["uri"] = f"everything+{block['uri']}"
        # Dynamic resources say when they were made: the same resource, a second apart.
        for block in tgot["contents"] + twant["contents"] + lgot["contents"] + lwant["contents"]:
            if "blob" in block:
                block["blob"] = base64.b64decode(block["blob"]).decode()
            for key in ("text", "blob"):
                if key in block:
                    block[key] = re.sub(r"created at .*", "created at <time>", block[key])
        check(tgot == twant, "template resource read equals direct", (tgot, twant))
        check(lgot == lwant and lgot["contents"], "resource_link read equals direct", (lgot, lwant))
        check(cgot == cwant and cgot["completion"]["values"], "prompt completion equals direct", (cgot, cwant))
        check(rgot == rwant and rgot["completion"]["values"], "template completion equals direct", (rgot, rwant))
        for block in want["contents"]:
            block["uri"] = f"everything+{block['uri']}"
        check(got == want, "resource read equals direct", (got, want))
        check(pgot == pwant, "prompt equals direct", (pgot, pwant))
        out["resources"] = len(resources)
        out["ok"] = True
    out["total_s"] = round(time.monotonic() - t0, 3)
    return out


def main() -> int:
    gateway, config, surface, mode, fs_dir = sys.argv[1:6]
    return report(run(gateway, config, surface, mode, fs_dir))


if __name__ == "__main__":
    sys.exit(main())
