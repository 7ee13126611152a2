"""The `gateway` image: Debian's HAProxy 2.6 and svcctl (the controller), installed from the
same host-built wheels as the registrator image."""

from __future__ import annotations

from svcctl.config.settings import gateway_image
from svcctl.docker.images import ImageSpec, register_image
from svcctl.toolkit.registrator_image import prepare as prepare_wheels

register_image(ImageSpec("gateway", gateway_image(), "images/gateway", prepare=prepare_wheels))
