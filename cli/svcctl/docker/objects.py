"""Small recipes over the docker SDK's objects, so that the packages above never handle the SDK's
own exceptions or types: a lookup that answers None for what does not exist, a removal that is
done when the object is already gone, a bridge network on a chosen subnet."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from svcctl.errors import SvcctlError
from svcctl.wait import Backoff, retry

if TYPE_CHECKING:
    import docker

T = TypeVar("T")


def or_none(call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """`call(*args, **kwargs)`, or None when the engine answers that the object does not exist
    (HTTP 404: a container, image, volume or network that is not there)."""
    import docker.errors

    try:
        return call(*args, **kwargs)
    except docker.errors.NotFound:
        return None


def api_failure(action: str, exc: BaseException, fix: str) -> SvcctlError:
    """A docker SDK error as svcctl's: `<action> failed: <what the engine explained>`, with `fix`."""
    return SvcctlError(f"{action} failed: {getattr(exc, 'explanation', None) or exc}", fix)


def is_conflict(exc: BaseException) -> bool:
    """The engine refused because the object is in use (HTTP 409)."""
    import docker.errors

    return isinstance(exc, docker.errors.APIError) and exc.status_code == 409


def remove(obj: Any, attempts: int = 1, **options: Any) -> None:
    """Remove a container, volume or network; already gone counts as removed. An object briefly
    "in use" (HTTP 409: a volume just after its container's forced removal) is tried again every
    second, `attempts` tries in all."""
    retry(lambda: or_none(obj.remove, **options), Backoff(1, factor=1, tries=attempts), is_conflict)


def create_bridge_network(
    client: docker.DockerClient, name: str, subnet: ipaddress.IPv4Network, labels: dict[str, str]
) -> Any:
    """A bridge network on `subnet`, its first address the gateway."""
    import docker.types

    pool = docker.types.IPAMPool(subnet=str(subnet), gateway=str(subnet.network_address + 1))
    return client.networks.create(
        name, driver="bridge", labels=labels, ipam=docker.types.IPAMConfig(pool_configs=[pool])
    )
