"""A Jupyter kernel client that never sleeps through a message: it waits in slices of a second.

Executing a notebook with ipywidgets sometimes waits for a cell's reply until the cell's timeout
although the kernel answered long before (jupyter/nbclient#312, seen here on a loaded machine on
the chapters' ``interact`` cells: about one such cell in fifteen). The reply is sitting in the
socket: the asyncio poll was not woken up, and the next poll finds it at once. So the channels
below poll for at most :data:`SLICE` seconds at a time, until the caller's own timeout: a missed
wake-up then costs under a second instead of the whole timeout (and a cell falsely timed out).

Used by the autograder's kernels and, through ``nbgrader_config.py``, by nbgrader's own execution
(``nbgrader validate``, ``nbgrader autograde``).
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type

SLICE = 1.0  # seconds


class SlicedPollChannel(AsyncZMQSocketChannel):
    """``get_msg(timeout)`` as a series of polls of at most :data:`SLICE` seconds."""

    async def get_msg(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = SLICE if deadline is None else max(0.0, min(SLICE, deadline - time.monotonic()))
            try:
                return await super().get_msg(timeout=left)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise


class SlicedPollKernelClient(AsyncKernelClient):
    """An asyncio kernel client whose shell and IOPub channels are :class:`SlicedPollChannel`."""

    shell_channel_class = Type(SlicedPollChannel)
    iopub_channel_class = Type(SlicedPollChannel)


class SlicedPollKernelManager(AsyncKernelManager):
    """An asyncio kernel manager that hands out :class:`SlicedPollKernelClient`."""

    client_class = DottedObjectName("autograder.kernel_client.SlicedPollKernelClient")
    client_factory = Type(SlicedPollKernelClient)  # what client() uses; a changed default is not observed
