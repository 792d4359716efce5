"""JupyterHub configuration with hubplugins.

- Locally, ``./dev demo`` (``hubplugins-demo``, of the development
  distribution ``hubplugins-dev``) runs the demo hub on the devcluster with
  :func:`hubplugins_dev.demo.configure_demo`; running
  ``jupyterhub -f jupyterhub_config.py`` with ``HUBPLUGINS_DEMO_STATE`` set
  does the same.
- In the Zero-to-JupyterHub chart, the chart's own configuration has already
  run; ``hubplugins.setup(c)`` wires the hub-level pieces. In helm values
  that is the one line ``hub.extraConfig.hubplugins: "import hubplugins;
  hubplugins.setup(c)"``.
"""

import os

import hubplugins

c = get_config()  # noqa: F821 - provided by JupyterHub

if os.environ.get("HUBPLUGINS_DEMO_STATE"):
    from hubplugins_dev.demo import configure_demo

    configure_demo(c)
else:
    c.JupyterHub.spawner_class = "hubplugins.PolicySpawner"
    hubplugins.setup(c)
