"""The image catalog: every image the project has a Dockerfile for is in it, and nothing else."""

from svcctl.config.settings import find_project_dir
from svcctl.toolkit.images import known_images


def test_every_image_of_the_project_is_in_the_catalog():
    names = set(known_images(find_project_dir()))
    assert names == {
        "zookeeper",
        "registrator",
        "gateway",
        "docker-proxy",
        "prometheus",
        "java_service_1",
        "php_service_2",
        "dind",
    }


def test_every_dockerfile_of_the_project_has_a_catalog_entry():
    from svcctl.toolkit.images import catalog

    project = find_project_dir()
    dockerfiles = {
        str(path.parent.relative_to(project))
        for top in ("images", "services")
        for path in (project / top).glob("*/Dockerfile")
    }
    assert dockerfiles == {spec.context for spec in catalog().values()}
