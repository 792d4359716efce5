"""The hub configuration the PolicySpawner end-to-end tests share."""

POLICY = {
    "defaults": {
        "servers": {"max_named": 5, "max_running": 6, "name_max_length": 20},
        "resources": {
            "cpu": {"guarantee": 0.5, "limit": 1, "max": 1},
            "memory": {"guarantee": "1G", "limit": "2G", "max": "2G"},
            "gpu": {"default": 0, "max": 0},
        },
        "quota": {"cpu": 2, "memory": "4G", "gpu": 0},
        "storage": {"capacity": "2Gi", "scope": "server", "delete_with_server": True},
        "profiles": ["cpu", "test"],
    },
    "groups": {
        "authenticated": {
            "resources": {
                "cpu": {"max": 8},
                "memory": {"max": "16G"},
            },
            "quota": {"cpu": 16, "memory": "32G"},
        },
        "gpu-beta": {
            "resources": {"gpu": {"max": 2}, "memory": {"max": "32G"}},
            "quota": {"gpu": 2, "memory": "64G"},
            "profiles": ["*"],
        },
    },
    "cluster": {"gpu_pool": {"nvidia.com/gpu": 4}},
}

PROFILES = [
    {
        "display_name": "CPU",
        "slug": "cpu",
        "default": True,
        "kubespawner_override": {"image": "devcluster/stub:cpu"},
        "profile_options": {
            "image": {
                "display_name": "Image",
                "choices": {
                    "base": {
                        "display_name": "Base",
                        "kubespawner_override": {"image": "devcluster/stub:base"},
                    },
                    "sci": {
                        "display_name": "Scientific",
                        "kubespawner_override": {"image": "devcluster/stub:sci"},
                    },
                },
                "unlisted_choice": {
                    "enabled": True,
                    "display_name": "Other image",
                    "validation_regex": "^devcluster/stub:[a-z0-9.-]+$",
                    "kubespawner_override": {"image": "{value}"},
                },
            }
        },
    },
    {
        "display_name": "Test",
        "slug": "test",
        "kubespawner_override": {"image": "devcluster/stub:test"},
    },
    {
        "display_name": "GPU",
        "slug": "gpu",
        "kubespawner_override": {
            "image": "devcluster/stub:cuda",
            "extra_resource_limits": {"nvidia.com/gpu": "1"},
            "node_selector": {"hubplugins.io/gpu": "true"},
        },
    },
    {
        "display_name": "Big",
        "slug": "big",
        "kubespawner_override": {"image": "devcluster/stub:big", "cpu_limit": 4.0},
    },
]

CONFIG = f"""
import hubplugins
c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
c.KubeSpawner.profile_list = {PROFILES!r}
c.KubeSpawner.storage_pvc_ensure = True
c.KubeSpawner.volumes = [
    {{"name": "home", "persistentVolumeClaim": {{"claimName": "{{pvc_name}}"}}}}
]
c.KubeSpawner.volume_mounts = [{{"name": "home", "mountPath": "/home/jovyan"}}]
c.HubPolicy.policy = {POLICY!r}
c.JupyterHub.load_groups = {{
    "authenticated": {{"users": ["auth1", "auth2"]}},
    "gpu-beta": {{"users": ["gpu0"] + ["gpu%d" % i for i in range(1, 21)]}},
}}
hubplugins.setup(c)
"""
