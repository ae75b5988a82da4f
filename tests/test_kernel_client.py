"""The kernel client that polls in slices (autograder/kernel_client.py), and that nbgrader uses it."""

from __future__ import annotations

import asyncio
import time
from queue import Empty

import pytest
from jupyter_client.channels import AsyncZMQSocketChannel
from nbgrader.preprocessors import Execute
from traitlets.config.loader import PyFileConfigLoader

from autograder.kernel_client import SLICE, SlicedPollChannel, SlicedPollKernelClient, SlicedPollKernelManager
from conftest import KERNELS, ROOT

pytestmark = pytest.mark.slow  # kernels, nbgrader and waits of seconds: not for `make test-fast`


def test_get_msg_waits_in_slices_up_to_the_callers_timeout(monkeypatch):
    waits = []

    async def nothing_yet(self, timeout=None):
        waits.append(timeout)
        await asyncio.sleep(timeout)
        raise Empty

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", nothing_yet)
    channel = SlicedPollChannel.__new__(SlicedPollChannel)  # no socket: get_msg is all that runs
    start = time.monotonic()
    try:
        asyncio.run(channel.get_msg(timeout=2.5))
    except Empty:
        pass
    else:
        raise AssertionError("get_msg must raise Empty when nothing arrives before the timeout")
    assert 2.4 < time.monotonic() - start < 2.5 + SLICE
    assert len(waits) >= 3 and max(waits) <= SLICE, waits


def test_get_msg_returns_what_arrives_during_a_later_slice(monkeypatch):
    calls = []

    async def on_third_poll(self, timeout=None):
        calls.append(timeout)
        if len(calls) < 3:
            raise Empty
        return {"msg_type": "execute_reply"}

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", on_third_poll)
    channel = SlicedPollChannel.__new__(SlicedPollChannel)
    assert asyncio.run(channel.get_msg(timeout=None)) == {"msg_type": "execute_reply"}
    assert calls == [SLICE] * 3  # no timeout: slices forever, never a single endless poll


@KERNELS
def test_a_real_kernel_answers_through_the_sliced_client():
    async def run():
        km = SlicedPollKernelManager(kernel_name="python3")
        await km.start_kernel()
        kc = km.client()
        try:
            assert isinstance(kc, SlicedPollKernelClient) and isinstance(kc.shell_channel, SlicedPollChannel)
            kc.start_channels()
            await kc.wait_for_ready(timeout=60)
            msg_id = kc.execute("6 * 7")
            while True:
                reply = await kc.shell_channel.get_msg(timeout=30)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            assert reply["content"]["status"] == "ok"
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    asyncio.run(run())


def test_nbgrader_executes_with_the_sliced_client():
    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.AsyncKernelManager.client_factory is SlicedPollKernelClient
    execute = Execute(config=config)
    km = execute.kernel_manager_class(config=execute.config)
    assert isinstance(km.client(), SlicedPollKernelClient)
