"""What every interop scenario does at its end: run it, print its JSON result, or say why it failed."""

import asyncio
import json
import os
import sys


def report(scenario) -> int:
    """Run the coroutine `scenario`; print its result as JSON (exit 0) or the failure (exit 1)."""
    try:
        out = asyncio.run(scenario)
    except BaseException as e:  # noqa: BLE001 - anyio wraps failures in exception groups
        while isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
            e = e.exceptions[0]
        print(f"FAILED {type(e).__name__}: {e}", file=sys.stderr)
        if os.environ.get("INTEROP_DEBUG"):
            import traceback; traceback.print_exception(e)
        return 1
    print(json.dumps(out))
    return 0
