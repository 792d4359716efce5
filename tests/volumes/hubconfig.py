"""The hub configuration the volume tests share: PolicySpawner on the devcluster."""

from __future__ import annotations

POLICY = {
    "defaults": {
        "storage": {
            "capacity": "1Gi",
            "scope": "server",
            "mount_path": "/home/jovyan",
            "delete_with_server": True,
            "delete_with_user": True,
        },
        "ssh_keys": False,
        "quota": {"cpu": None, "memory": None},
    },
    "groups": {
        # deleting keeps the data
        "keep": {"storage": {"delete_with_server": False, "delete_with_user": False}},
        # one volume for all of a user's servers, and an SSH key
        "shared": {"storage": {"scope": "user"}, "ssh_keys": True},
    },
}

GROUPS = {
    "keep": ["keep1", "keep2"],
    "shared": ["shared1", "shared2", "shared3"],
}

# "stub" answers every request with 200 and runs nothing: for tests that need
# the volume but not a Jupyter server
PROFILES = [
    {"display_name": "Notebook", "slug": "notebook", "default": True},
    {
        "display_name": "Stub",
        "slug": "stub",
        "kubespawner_override": {"image": "devcluster/stub"},
    },
]

CONFIG = f"""
import hubplugins
c.JupyterHub.allow_named_servers = True
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.image = "quay.io/jupyter/base-notebook:latest"
c.KubeSpawner.profile_list = {PROFILES!r}
# a configured home volume, which the policy's own replaces
c.KubeSpawner.volumes = [
    {{"name": "home", "persistentVolumeClaim": {{"claimName": "{{pvc_name}}"}}}}
]
c.KubeSpawner.volume_mounts = [{{"name": "home", "mountPath": "/home/jovyan"}}]
c.HubPolicy.policy = {POLICY!r}
c.JupyterHub.load_groups = {{name: {{"users": users}} for name, users in {GROUPS!r}.items()}}
hubplugins.setup(c)
"""
