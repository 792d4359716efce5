"""devcluster: a local Kubernetes API server and kubelet for demos and tests.

It serves the part of core/v1 that KubeSpawner uses (namespaces, pods, PVCs,
services, secrets, configmaps, events: list, watch, get, create, replace,
merge-patch, delete, pod logs) and runs each pod's first container as a local
process on its own loopback address (``127.A.B.C``), each volume a real
directory. The ``devcluster/stub`` image runs no process: an in-process HTTP
responder answers 200 on the pod's port instead.

Run it::

    python -m hubplugins_dev.devcluster --root DIR --capacity cpu=8,memory=32Gi,nvidia.com/gpu=4

It prints the kubeconfig path and ``url=http://127.0.0.1:PORT``, and runs until
SIGTERM/SIGINT. From tests, :func:`hubplugins_dev.devcluster.testing.run_devcluster`
starts one and :class:`hubplugins_dev.devcluster.client.DevClusterControl` reads
request counts, injects faults, delays readiness and finds volume directories
(``/devcluster/v1/`` on the same server).

Every object sent is checked against the official Kubernetes OpenAPI schemas
of the versions the chart supports (:mod:`.schema`): unknown fields are dropped
with a ``Warning`` header, or refused under ``fieldValidation=Strict``.

What a real cluster does and this does not: authentication and RBAC (any token
is accepted), TLS, more than one node, node selectors, affinity and tolerations
(ignored: the one node matches every pod), container restarts (a container that
exits ends its pod), images (recorded, never pulled: the command runs from the
kubelet's PATH), JSON patches (merge patches only), and changing a pod's or a
PVC's spec after creation (a replace keeps the stored spec and status).
"""

from .stub import STUB_IMAGE

__all__ = ["STUB_IMAGE"]
