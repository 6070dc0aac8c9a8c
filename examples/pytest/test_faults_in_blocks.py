"""The mcpchaos fixture: faults, the network and partitions switched on for a block of a test.

Run: pytest examples/pytest (needs pytest-asyncio; the fixture itself works in sync tests too).
"""

import pytest
from mcp import Client, MCPError

EVERY_CALL_FAILS = {
    "fault_probability": 1.0,
    "enabled_faults": {"error": True},
    "error_config": {"types": ["internal_error"]},
    "match": {"methods": ["tools/call"], "message_classes": ["client_request"]},
}


@pytest.mark.asyncio
async def test_tool_calls_fail_inside_the_fault_block_and_work_again_after_it(mcpchaos):
    async with Client(mcpchaos.url, mode="legacy") as client:
        assert (await client.call_tool("echo", {"text": "before"})).content[0].text == "before"
        async with mcpchaos.faults(EVERY_CALL_FAILS):
            with pytest.raises(MCPError, match="Internal error"):
                await client.call_tool("echo", {"text": "during"})
        assert (await client.call_tool("echo", {"text": "after"})).content[0].text == "after"

    faults = await mcpchaos.afault_log()
    assert [record["fault"] for record in faults] == ["error"]
    assert (await mcpchaos.ametrics())["faults_total"] == 1


def test_a_sync_test_drives_the_same_blocks(mcpchaos):
    with mcpchaos.network({"both": {"latency": {"base_ms": 50}}}):
        assert mcpchaos.health()["status"] == "ok"
    with mcpchaos.partition():
        pass
    assert mcpchaos.fault_log() == []
