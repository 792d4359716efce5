"""The hub process: policy config, setup, the HTTP answer of a refusal, tables.

Everything here runs inside JupyterHub and serves the adapters above it
(:mod:`hubplugins.spawner`, :mod:`hubplugins.auth`, :mod:`hubplugins.lifecycle`);
it imports none of them.
"""
