#!/usr/bin/python3
"""Structural check of packaging/kubernetes/*.yaml without a cluster.

`kubectl apply/create --dry-run=client` still asks an API server for the
resource mapping, so where none is reachable this parses the manifests
(python3-yaml) and checks what node-install.sh and the README rely on.
usage: check_manifests.py DIR
"""
import glob
import sys

import yaml


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


docs = []
for path in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc is None:
                continue
            for key in ("apiVersion", "kind", "metadata"):
                if key not in doc:
                    fail(f"{path}: a document without {key}")
            docs.append(doc)

by_kind = {d["kind"]: d for d in docs}
rc = by_kind.get("RuntimeClass") or fail("no RuntimeClass")
if rc["apiVersion"] != "node.k8s.io/v1" or rc.get("handler") != "ctrsnap":
    fail(f"RuntimeClass: {rc}")
ds = by_kind.get("DaemonSet") or fail("no DaemonSet")
if ds["apiVersion"] != "apps/v1":
    fail("DaemonSet apiVersion")
spec = ds["spec"]
if spec["selector"]["matchLabels"].items() - spec["template"]["metadata"]["labels"].items():
    fail("DaemonSet selector does not match its template's labels")
pod = spec["template"]["spec"]
if not pod.get("hostPID"):
    fail("DaemonSet needs hostPID for nsenter -t 1")
(container,) = pod["containers"]
if not container["securityContext"].get("privileged"):
    fail("installer container must be privileged")
env = {e["name"]: e["value"] for e in container.get("env", [])}
if env.get("NODE_ROOT") != "/host":
    fail("NODE_ROOT must be /host")
volumes = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
for name, host_path in volumes.items():
    if mounts.get(name) != "/host" + host_path:
        fail(f"volume {name} ({host_path}) is not mounted at /host{host_path}")
for needed in ("/usr/local/bin", "/etc/containerd", "/var/lib/ctrsnap", "/run"):
    if needed not in volumes.values():
        fail(f"no hostPath {needed}")
ns = ds["metadata"].get("namespace")
if ns and not any(d["kind"] == "Namespace" and d["metadata"]["name"] == ns for d in docs):
    fail(f"namespace {ns} is not created")
print(f"manifests ok: {', '.join(sorted(by_kind))}")
