"""Output pipes: both backends carry bytes; the Linux one is enlarged."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import pytest

from atom_desktop.platform import pipes


@pytest.mark.parametrize(
    "make_pipe",
    [pipes.output_pipe, pipes.plain_output_pipe],
    ids=["this-system", "plain"],
)
def test_a_pipe_carries_bytes_from_the_write_end_to_the_read_end(
    make_pipe: Callable[[], tuple[int, int]],
) -> None:
    read_end, write_end = make_pipe()
    try:
        os.write(write_end, b"hello \x00\xff")
        os.close(write_end)
        write_end = -1
        assert os.read(read_end, 100) == b"hello \x00\xff"
        assert os.read(read_end, 100) == b""  # end of file once the write end is closed
    finally:
        os.close(read_end)
        if write_end != -1:
            os.close(write_end)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux resizes pipes")
def test_on_linux_the_pipe_is_enlarged() -> None:
    import fcntl  # noqa: PLC0415 - Linux only

    get_size = getattr(fcntl, "F_GETPIPE_SZ", 1032)
    read_end, write_end = pipes.output_pipe()
    try:
        assert fcntl.fcntl(read_end, get_size) == pipes.PIPE_BYTES
        # The child gets the write end; the read end stays ours.
        assert not os.get_inheritable(read_end)
    finally:
        os.close(read_end)
        os.close(write_end)
