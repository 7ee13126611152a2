"""The `gateway` image: Debian's HAProxy 2.6 and svcctl (the controller), installed from the
same host-built wheels as the registrator image."""

from __future__ import annotations

from ..config import gateway_image
from ..images import ImageSpec, register_image
from ..registrator.image import prepare as prepare_wheels

register_image(ImageSpec("gateway", gateway_image(), "images/gateway", prepare=prepare_wheels))
