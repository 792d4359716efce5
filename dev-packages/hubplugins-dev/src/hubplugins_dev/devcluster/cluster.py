"""API semantics over the store: create, replace, patch, delete, garbage collection."""

from __future__ import annotations

import base64
import copy
import random
import shutil
import uuid
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import quota, schema
from .errors import ApiError, already_exists, conflict, not_found
from .schema import Decoding
from .selectors import selector_matcher
from .store import Store, now_rfc3339
from .validation import KINDS, validate

if TYPE_CHECKING:
    from .kubelet import Kubelet

NAMESPACED = (
    "pods",
    "persistentvolumeclaims",
    "services",
    "secrets",
    "configmaps",
    "events",
    "resourcequotas",
)
RESOURCES = ("namespaces", *NAMESPACED)
PVC_PROTECTION = "kubernetes.io/pvc-protection"
_NAME_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class Cluster:
    """The objects of one devcluster and the rules a real API server applies to them."""

    def __init__(
        self,
        root: Path,
        namespace: str = "default",
        max_events: int = 2000,
        kubernetes_versions: Sequence[str] = schema.DEFAULT_VERSIONS,
    ) -> None:
        self.root = root
        self.kubernetes_versions = tuple(kubernetes_versions)
        self.store = Store()
        self.default_namespace = namespace
        self.kubelet: Kubelet | None = None
        self.max_events = max_events
        self._event_keys: deque[tuple[str, str]] = deque()
        self._service_ips = 0
        self.store.listeners.append(self._quotas_follow_pods)
        self.add_namespace(namespace)

    def add_namespace(self, name: str) -> None:
        if self.store.get("namespaces", "", name) is None:
            self.create("namespaces", None, {"metadata": {"name": name}})

    # paths

    def volume_path(self, namespace: str, claim: str) -> Path:
        return self.root / "volumes" / namespace / claim

    # reading

    def get(self, resource: str, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(resource, namespace or "", name)
        if obj is None:
            raise not_found(resource, name)
        return obj

    def list(
        self,
        resource: str,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> dict[str, Any]:
        match = selector_matcher(label_selector, field_selector)
        items = [obj for obj in self.store.iter(resource, namespace) if match(obj)]
        return {
            "kind": f"{KINDS[resource]}List",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": items,
        }

    # creating

    def _check_namespace(self, resource: str, namespace: str | None) -> None:
        if resource == "namespaces":
            return
        ns = self.store.get("namespaces", "", namespace or "")
        if ns is None:
            raise not_found("namespaces", namespace or "")
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                f"{resource} is forbidden: unable to create new content in namespace"
                f" {namespace} because it is being terminated",
                reason="Forbidden",
            )

    def _prepare(self, resource: str, namespace: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object", reason="BadRequest")
        kind = body.get("kind")
        if kind and kind != KINDS[resource]:
            raise ApiError(400, f"kind {kind} does not match {KINDS[resource]}")
        obj = copy.deepcopy(body)
        obj["kind"], obj["apiVersion"] = KINDS[resource], "v1"
        meta = obj.setdefault("metadata", {}) or {}
        obj["metadata"] = meta
        if resource != "namespaces":
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match the namespace"
                    " sent on the request",
                    reason="BadRequest",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        return obj

    def _decode(
        self, resource: str, obj: dict[str, Any], decoding: Decoding | None
    ) -> schema.Causes:
        """The OpenAPI schema check: drops unknown fields, raises a 400; the 422 causes."""
        decoding = decoding or Decoding()
        checked = schema.check(
            KINDS[resource], obj, decoding.field_validation, self.kubernetes_versions
        )
        decoding.warnings += checked.warnings
        return checked.causes

    def create(
        self, resource: str, namespace: str | None, body: Any, decoding: Decoding | None = None
    ) -> dict[str, Any]:
        obj = self._prepare(resource, namespace, body)
        causes = self._decode(resource, obj, decoding)
        self._check_namespace(resource, namespace)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            for _ in range(20):
                name = meta["generateName"] + "".join(random.choices(_NAME_SUFFIX, k=5))
                if self.store.get(resource, namespace or "", name) is None:
                    meta["name"] = name
                    break
        validate(resource, obj, causes)
        if self.store.get(resource, namespace or "", meta["name"]) is not None:
            raise already_exists(resource, meta["name"])
        getattr(self, f"_default_{resource}")(obj)
        if resource == "pods":  # admission and creation in one step: see quota
            quota.admit(self, namespace or "", obj)
        obj = self.store.add(resource, obj)
        if resource == "persistentvolumeclaims":
            self.volume_path(namespace or "", meta["name"]).mkdir(parents=True, exist_ok=True)
        if resource == "pods" and self.kubelet is not None:
            self.kubelet.pod_added(obj)
        if resource == "persistentvolumeclaims" and self.kubelet is not None:
            self.kubelet.kick()
        return obj

    def _default_namespaces(self, obj: dict[str, Any]) -> None:
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}

    def _default_pods(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("dnsPolicy", "ClusterFirst")
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def _default_persistentvolumeclaims(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("volumeMode", "Filesystem")
        spec["volumeName"] = f"pvc-{uuid.uuid4()}"
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if PVC_PROTECTION not in finalizers:
            finalizers.append(PVC_PROTECTION)
        obj["status"] = {
            "phase": "Bound",
            "accessModes": list(spec.get("accessModes") or []),
            "capacity": {"storage": spec["resources"]["requests"]["storage"]},
        }

    def _default_services(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if not spec.get("clusterIP"):
            self._service_ips += 1
            n = self._service_ips
            spec["clusterIP"] = f"10.96.{(n // 250) % 250}.{n % 250 + 1}"
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        obj.setdefault("status", {"loadBalancer": {}})

    def _default_secrets(self, obj: dict[str, Any]) -> None:
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        data = obj.get("data") or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        if data:
            obj["data"] = data

    def _default_configmaps(self, obj: dict[str, Any]) -> None:
        pass

    def _default_resourcequotas(self, obj: dict[str, Any]) -> None:
        obj["status"] = quota.status_of(self, obj["metadata"]["namespace"], obj)

    def _quotas_follow_pods(self, resource: str, obj: dict[str, Any]) -> None:
        if resource == "pods":
            quota.refresh(self, obj["metadata"].get("namespace", ""))

    def _default_events(self, obj: dict[str, Any]) -> None:
        for key in ("firstTimestamp", "lastTimestamp", "eventTime"):
            obj.setdefault(key, None)
        obj.setdefault("count", 1)
        obj.setdefault("type", "Normal")
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        self._event_keys.append((ns, name))
        while len(self._event_keys) > self.max_events:
            old_ns, old_name = self._event_keys.popleft()
            self.store.remove("events", old_ns, old_name)

    def record_event(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        type_: str = "Normal",
        component: str = "kubelet",
    ) -> dict[str, Any]:
        """Record an Event about ``involved`` (a pod) as the kubelet or scheduler would."""
        meta = involved["metadata"]
        stamp = now_rfc3339()
        event = {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}"},
            "involvedObject": {
                "kind": involved.get("kind", "Pod"),
                "apiVersion": "v1",
                "namespace": meta.get("namespace"),
                "name": meta["name"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "eventTime": None,
            "count": 1,
        }
        return self.create("events", meta.get("namespace"), event)

    # replacing and patching

    def replace(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        body: Any,
        decoding: Decoding | None = None,
    ) -> dict[str, Any]:
        current = self.get(resource, namespace, name)
        obj = self._prepare(resource, namespace, body)
        causes = self._decode(resource, obj, decoding)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise ApiError(
                400,
                f"the name of the object ({meta['name']}) does not match the name on the URL"
                f" ({name})",
                reason="BadRequest",
            )
        meta["name"] = name
        wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise conflict(resource, name)
        validate(resource, obj, causes)
        old_meta = current["metadata"]
        for key in ("uid", "creationTimestamp", "deletionTimestamp", "generateName"):
            if key in old_meta:
                meta[key] = old_meta[key]
        if resource in ("pods", "persistentvolumeclaims", "namespaces"):
            # spec of these is (mostly) immutable and status is a subresource
            for key in ("spec", "status"):
                if key in current:
                    obj[key] = copy.deepcopy(current[key])
        if resource == "persistentvolumeclaims":
            finalizers = meta.setdefault("finalizers", [])
            if PVC_PROTECTION not in finalizers and old_meta.get("deletionTimestamp") is None:
                finalizers.append(PVC_PROTECTION)
        if resource == "resourcequotas":  # status is the quota controller's
            obj["status"] = quota.status_of(self, namespace or "", obj)
        return self.store.update(resource, obj)

    def patch(
        self,
        resource: str,
        namespace: str | None,
        name: str,
        patch: Any,
        decoding: Decoding | None = None,
    ) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise ApiError(
                415, "only JSON merge patches are supported", reason="UnsupportedMediaType"
            )
        current = self.get(resource, namespace, name)
        merged = merge_patch(copy.deepcopy(current), patch)
        if "resourceVersion" not in (patch.get("metadata") or {}):
            merged["metadata"].pop("resourceVersion", None)
        return self.replace(resource, namespace, name, merged, decoding)

    # deleting

    def delete(
        self, resource: str, namespace: str | None, name: str, grace: int | None = None
    ) -> dict[str, Any]:
        obj = self.get(resource, namespace, name)
        ns = namespace or ""
        if resource == "pods" and self.kubelet is not None:
            return self.kubelet.delete_pod(obj, grace)
        if resource == "persistentvolumeclaims" and self._pvc_in_use(ns, name):
            if obj["metadata"].get("deletionTimestamp"):
                return obj
            marked = copy.deepcopy(obj)
            marked["metadata"]["deletionTimestamp"] = now_rfc3339()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            return self.store.update(resource, marked)
        if resource == "namespaces":
            return self._delete_namespace(obj)
        return self.finalize(resource, ns, name) or obj

    def _pvc_in_use(self, namespace: str, claim: str) -> bool:
        for pod in self.store.iter("pods", namespace):
            if pod["status"].get("phase") in ("Succeeded", "Failed"):
                continue
            for vol in pod.get("spec", {}).get("volumes") or []:
                if (vol.get("persistentVolumeClaim") or {}).get("claimName") == claim:
                    return True
        return False

    def _delete_namespace(self, obj: dict[str, Any]) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        if name == self.default_namespace:
            raise ApiError(
                403,
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                reason="Forbidden",
            )
        if not obj["metadata"].get("deletionTimestamp"):
            marked = copy.deepcopy(obj)
            marked["metadata"]["deletionTimestamp"] = now_rfc3339()
            marked["status"] = {"phase": "Terminating"}
            obj = self.store.update("namespaces", marked)
        for resource in NAMESPACED:
            for child in list(self.store.iter(resource, name)):
                if not child["metadata"].get("deletionTimestamp"):
                    self.delete(resource, name, child["metadata"]["name"])
        self._maybe_finish_namespace(name)
        return obj

    def _maybe_finish_namespace(self, namespace: str) -> None:
        ns = self.store.get("namespaces", "", namespace)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        for resource in NAMESPACED:
            if any(True for _ in self.store.iter(resource, namespace)):
                return
        self.store.remove("namespaces", "", namespace)

    def finalize(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """Remove an object for good, then what it owned and what waited for it."""
        gone = self.store.remove(resource, namespace, name)
        if gone is None:
            return None
        if resource == "persistentvolumeclaims":
            shutil.rmtree(self.volume_path(namespace, name), ignore_errors=True)
        uid = gone["metadata"]["uid"]
        for kind in NAMESPACED if resource != "namespaces" else ():
            for child in list(self.store.iter(kind, namespace)):
                owners = child["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in owners):
                    try:
                        self.delete(kind, namespace, child["metadata"]["name"])
                    except ApiError:
                        pass
        if resource == "pods":
            self.release_claims(namespace)
        if resource != "namespaces":
            self._maybe_finish_namespace(namespace)
        return gone

    def release_claims(self, namespace: str) -> None:
        """Finish deleting PVCs that waited for their last pod."""
        for pvc in list(self.store.iter("persistentvolumeclaims", namespace)):
            pname = pvc["metadata"]["name"]
            if pvc["metadata"].get("deletionTimestamp") and not self._pvc_in_use(namespace, pname):
                self.finalize("persistentvolumeclaims", namespace, pname)
