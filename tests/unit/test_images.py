"""The image catalog: every image the project builds is known, whichever module owns its spec
(a module that registers its image on import and is renamed must not drop out silently)."""

from svcctl.config.settings import find_project_dir
from svcctl.docker.images import known_images


def test_every_image_of_the_project_is_in_the_catalog():
    names = set(known_images(find_project_dir()))
    assert names == {"zookeeper", "registrator", "gateway", "docker-proxy", "java_service_1", "php_service_2", "dind"}
