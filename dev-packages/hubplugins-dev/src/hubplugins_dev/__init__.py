"""Development tools of hubplugins, never installed into a hub image.

- :mod:`hubplugins_dev.devcluster`: a local Kubernetes API server and kubelet,
  with a fault-injection API, for the demo, the tests and the benchmarks.
- :mod:`hubplugins_dev.demo`: the demo hub (``hubplugins-demo``), signed in to
  with a dummy authenticator and a fixed password.
- :mod:`hubplugins_dev.standin`: a stand-in for the hub's user REST API, for
  the lifecycle service's tests and benchmarks.
"""
