"""A real HTTP responder: perl from the base image (nothing to build), one connection at a time."""

from __future__ import annotations

import os
from functools import lru_cache

# HTTP/1.0, answers `hello from <hostname> <path>`.
RESPONDER = r"""
use IO::Socket::INET; $|=1;
my $s=IO::Socket::INET->new(LocalPort=>8000,Listen=>128,ReuseAddr=>1) or die "listen: $!";
while(my $c=$s->accept){ my $r=""; while(<$c>){ last if /^\r?\n$/; $r.=$_ }
  my ($p)=$r=~/^\S+ (\S+)/; my $b="hello from $ENV{HOSTNAME} $p\n";
  print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ".length($b)
    ."\r\nConnection: close\r\n\r\n$b"; close $c }
"""


@lru_cache(maxsize=1)
def base_image(engine) -> str:
    """SVCCTL_BASE_IMAGE, debian:bookworm-slim or the bootstrapped base: whichever this engine
    has, as for every image svcctl builds."""
    from svcctl.config.settings import Settings
    from svcctl.docker.images import resolve_base_image

    return resolve_base_image(engine, Settings.from_environ(os.environ).base_image)
