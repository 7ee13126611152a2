"""The docker CLI's contexts (its context store, ~/.docker/contexts): whether one exists, one
created or pointed at an engine again with that engine's TLS material, one removed. Through
python-on-whales, but for `docker context update`, which it does not implement (its
`ContextCLI.update` raises NotImplementedError): that one goes through the runner. The docker CLI
runs as for the command's `engine` (its host and TLS material given), though no engine is asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from svcctl.config.engines import EngineEndpoint
from svcctl.docker.engine import no_docker_cli, run_docker_cli
from svcctl.docker.whales import command_failed, failure_output, run_whales, whales_client

if TYPE_CHECKING:
    from python_on_whales import DockerContextConfig

CONTEXT_TIMEOUT = 120.0


def docker_endpoint_config(endpoint: EngineEndpoint) -> DockerContextConfig:
    """The context's docker endpoint: `endpoint`'s host, with its CA, certificate and key (the
    docker CLI copies the three files into its context store)."""
    from python_on_whales import DockerContextConfig

    ca, cert, key = endpoint.tls_files() or (None, None, None)
    return DockerContextConfig(host=endpoint.host, certificate_authority=ca, certificate=cert, key=key)


def context_exists(name: str, engine: EngineEndpoint) -> bool:
    """Whether the context store holds context `name`. Read from `docker context ls --quiet`:
    python-on-whales' inspect would also parse the context's metadata, and refuse what another
    tool may have written there."""
    from python_on_whales import ClientNotFoundError, DockerException

    try:
        return name in [context.name for context in whales_client(engine).context.list()]
    except ClientNotFoundError:
        raise no_docker_cli() from None
    except DockerException:
        return False


def create_or_update_context(
    name: str, description: str, endpoint: EngineEndpoint, engine: EngineEndpoint, fix: str
) -> None:
    """Context `name` on `endpoint`: created with `description`, or when it exists pointed at
    `endpoint` again (its description kept). A failure is SvcctlError naming the docker CLI's
    last line, with `fix`."""
    config = docker_endpoint_config(endpoint)
    if not context_exists(name, engine):
        run_whales(
            f"creating Docker context {name}",
            fix,
            lambda: whales_client(engine).context.create(name, description=description, docker=config),
        )
        return
    # The runner: python-on-whales has no `context update`. The --docker value is the one
    # python-on-whales gives `context create`, so both write the same endpoint.
    proc = run_docker_cli(
        ["context", "update", name, "--docker", config.format_for_docker_cli()], engine, timeout=CONTEXT_TIMEOUT
    )
    if proc.returncode != 0:
        raise command_failed(
            f"updating Docker context {name}", failure_output(proc), f"docker exited {proc.returncode}", fix
        )


def remove_context(name: str, engine: EngineEndpoint, fix: str) -> bool:
    """Context `name` removed (`--force`: even when it is the current one); False when there
    was none."""
    if not context_exists(name, engine):
        return False
    run_whales(f"removing Docker context {name}", fix, lambda: whales_client(engine).context.remove(name, force=True))
    return True
