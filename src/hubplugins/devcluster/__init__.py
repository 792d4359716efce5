"""devcluster: a local Kubernetes API server and kubelet for demos and tests.

It serves the subset of core/v1 that KubeSpawner uses and runs each pod's
first container as a local process (or, for the ``devcluster/stub`` image, an
in-process HTTP responder), each volume a real directory. Run it with
``python -m hubplugins.devcluster``; drive it from tests with
:func:`hubplugins.devcluster.testing.run_devcluster` and
:class:`hubplugins.devcluster.client.DevClusterControl`.

It is a development tool: no authentication, no TLS, one node.
"""

STUB_IMAGE = "devcluster/stub"

__all__ = ["STUB_IMAGE"]
