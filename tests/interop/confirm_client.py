#!/usr/bin/env python3
"""Confirmation of destructive tools, seen by the official Python `mcp` SDK client (2.x).

Usage: confirm_client.py GATEWAY_BIN CONFIG

The config's backend `fx` is the fixture server, whose `delete_item` says
`destructiveHint: true`. Through `gateway_invoke`:
- a legacy (initialize) client with an elicitation callback is asked; its first answer
  declines (the call is refused), its second accepts (the call is made);
- a 2026-07-28 client with the callback is asked inside an InputRequiredResult, which its
  SDK answers by retrying the call: accepted, then declined;
- a client without the callback (auto mode, whatever version it settles on) is refused
  with the reason.
Which calls reached the backend is for the caller to check in the fixture's log.
Prints one JSON line of findings; exits 1 with the failed check on stderr.
"""
from __future__ import annotations

import asyncio
import json
import sys

import mcp_types as types
from mcp import Client, StdioServerParameters


class Failed(Exception):
    pass


def check(cond: bool, what: str, detail: object = "") -> None:
    if not cond:
        raise Failed(f"{what}: {detail}")


def text(result: types.CallToolResult) -> str:
    return "".join(getattr(b, "text", "") for b in result.content)


async def invoke(gw: Client, tool: str, args: dict) -> types.CallToolResult:
    # The first call waits for the backend to start; later ones are immediate.
    return await gw.call_tool("gateway_invoke", {"server": "fx", "tool": tool, "arguments": args})


async def run(gateway: str, config: str) -> dict:
    out: dict = {}
    params = StdioServerParameters(command=gateway, args=["serve", "--config", config])
    asked: list[dict] = []
    answers = [
        types.ElicitResult(action="decline"),
        types.ElicitResult(action="accept", content={"confirm": True}),
        types.ElicitResult(action="accept", content={"confirm": True}),
        types.ElicitResult(action="decline"),
    ]

    async def on_elicit(context, request: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(request.model_dump(by_alias=True, exclude_none=True, mode="json"))
        return answers[len(asked) - 1]

    async with Client(params, mode="legacy", elicitation_callback=on_elicit, read_timeout_seconds=60) as gw:
        out["legacy_version"] = gw.protocol_version
        up = await invoke(gw, "echo", {"text": "up"})
        check(text(up) == "up", "echo through the gateway", text(up))

        declined = await invoke(gw, "delete_item", {"id": "py-declined"})
        check(declined.is_error, "a declined call is an error", declined)
        check("declined" in text(declined), "the refusal says the user declined", text(declined))
        check(len(asked) == 1, "asked once", asked)
        message = asked[0].get("message", "")
        for part in ("`delete_item`", "`fx`", "py-declined"):
            check(part in message, f"the question names {part}", message)
        schema = asked[0].get("requestedSchema", {})
        check(schema.get("properties", {}).get("confirm", {}).get("type") == "boolean",
              "a boolean confirm field", schema)

        accepted = await invoke(gw, "delete_item", {"id": "py-accepted"})
        check(not accepted.is_error, "an accepted call runs", accepted)
        check(text(accepted) == "deleted py-accepted", "the backend's answer", text(accepted))
        check(len(asked) == 2, "asked again for the second call", asked)

        plain = await invoke(gw, "echo", {"text": "no question"})
        check(len(asked) == 2 and text(plain) == "no question", "a tool not marked destructive is not asked about", asked)

    async with Client(params, mode="2026-07-28", elicitation_callback=on_elicit, read_timeout_seconds=60) as gw:
        out["modern_version"] = gw.protocol_version
        accepted = await invoke(gw, "delete_item", {"id": "py-modern-accepted"})
        check(not accepted.is_error, "an accepted call runs (2026-07-28)", accepted)
        check(text(accepted) == "deleted py-modern-accepted", "the backend's answer (2026-07-28)", text(accepted))
        check(len(asked) == 3 and "py-modern-accepted" in asked[2].get("message", ""),
              "asked through an InputRequiredResult", asked)
        declined = await invoke(gw, "delete_item", {"id": "py-modern-declined"})
        check(declined.is_error and "declined" in text(declined), "a declined call is refused (2026-07-28)", declined)
        check(len(asked) == 4, "asked again for the second call (2026-07-28)", asked)

    async with Client(params, mode="auto", read_timeout_seconds=60) as gw:
        out["auto_version"] = gw.protocol_version
        refused = await invoke(gw, "delete_item", {"id": "py-unasked"})
        check(refused.is_error, "a client that cannot be asked is refused", refused)
        why = text(refused)
        check("was not made" in why, "the refusal says nothing ran", why)
        check("elicitation" in why, "the refusal names the missing capability", why)
        out["unasked_refusal"] = why

    out["asked"] = len(asked)
    out["ok"] = True
    return out


def main() -> None:
    gateway, config = sys.argv[1:3]
    try:
        out = asyncio.run(run(gateway, config))
    except Failed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
