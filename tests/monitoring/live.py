"""Test copies of the production monitoring config for a loopback Prometheus and Alertmanager,
and a webhook receiver in the test process.

The copies keep everything that can run here: the production `luminate` scrape job with its
relabelling (Kubernetes discovery replaced by a file listing the labels Kubernetes would give
the pod), every recording and alert rule with its expression, labels and annotations, and the
Alertmanager routes and inhibitions. What changes: intervals and `for:` are seconds, and the
receivers are webhooks to this process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.monitoring.artefacts import ALERTMANAGER, ALERTS, CONFIG, RECORDING, TEMPLATES

FOR_S = "3s"
INTERVAL = "1s"


def rules_copy(base: Path) -> list[Path]:
    """The recording and alert rules, evaluated every second, each `for:` at most FOR_S."""
    out = []
    for source in (RECORDING, ALERTS):
        doc = yaml.safe_load(source.read_text())
        for group in doc["groups"]:
            group["interval"] = INTERVAL
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = FOR_S
        path = base / source.name
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        out.append(path)
    return out


def pod_target(public_port: int, internal_port: int, annotations: dict[str, str]) -> dict[str, Any]:
    """What Kubernetes pod discovery yields for a Luminate pod on loopback: the container's
    (public) port as the address, the pod's labels and annotations as meta labels."""
    labels = {
        "__meta_kubernetes_namespace": "luminate-prod",
        "__meta_kubernetes_pod_name": "luminate-0",
        "__meta_kubernetes_pod_ip": "127.0.0.1",
        "__meta_kubernetes_pod_label_app": "luminate",
    }
    for key, value in annotations.items():
        name = key.replace(".", "_").replace("/", "_").replace("-", "_")
        labels[f"__meta_kubernetes_pod_annotation_{name}"] = value
    labels["__meta_kubernetes_pod_annotation_prometheus_io_port"] = str(internal_port)
    return {"targets": [f"127.0.0.1:{public_port}"], "labels": labels}


def service_target(address: str, name: str, namespace: str = "monitoring") -> dict[str, Any]:
    """What Kubernetes service discovery yields for a Service labelled with its name."""
    return {
        "targets": [address],
        "labels": {
            "__meta_kubernetes_namespace": namespace,
            "__meta_kubernetes_service_name": name,
            "__meta_kubernetes_service_label_app_kubernetes_io_name": name,
        },
    }


def prometheus_config(
    base: Path,
    target: dict[str, Any],
    alertmanager_url: str | None = None,
    pushgateway: dict[str, Any] | None = None,
) -> Path:
    doc = yaml.safe_load(CONFIG.read_text())
    doc["global"].update(scrape_interval=INTERVAL, evaluation_interval=INTERVAL)
    doc["rule_files"] = [str(p) for p in rules_copy(base)]
    job = next(j for j in doc["scrape_configs"] if j["job_name"] == "luminate")
    del job["kubernetes_sd_configs"]
    targets = base / "luminate-targets.json"
    targets.write_text(json.dumps([target]))
    job["file_sd_configs"] = [{"files": [str(targets)], "refresh_interval": "1s"}]
    doc["scrape_configs"] = [job]
    if pushgateway is not None:
        # The production job as it is, discovery through a file instead of the API server.
        push = next(
            j
            for j in yaml.safe_load(CONFIG.read_text())["scrape_configs"]
            if j["job_name"] == "pushgateway"
        )
        del push["kubernetes_sd_configs"]
        found = base / "pushgateway-targets.json"
        found.write_text(json.dumps([pushgateway]))
        push["file_sd_configs"] = [{"files": [str(found)], "refresh_interval": "1s"}]
        doc["scrape_configs"].append(push)
    if alertmanager_url is None:
        doc.pop("alerting")
    else:
        host = alertmanager_url.removeprefix("http://")
        doc["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
    path = base / "prometheus.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def alertmanager_config(base: Path, webhook_url: str) -> Path:
    """Production routes and inhibitions; each receiver posts to `<webhook_url>/<receiver>`."""
    doc = yaml.safe_load(ALERTMANAGER.read_text())
    doc["templates"] = [str(TEMPLATES / "*.tmpl")]
    doc["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    doc["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": f"{webhook_url}/{r['name']}"}]}
        for r in doc["receivers"]
    ]
    path = base / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@dataclass
class Notification:
    receiver: str  # the path the webhook was called on
    body: dict[str, Any]


@dataclass
class Webhook:
    """Records every notification Alertmanager posts."""

    received: list[Notification] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Webhook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                with hook._lock:
                    hook.received.append(Notification(self.path.strip("/"), body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def firing(self, alertname: str) -> list[tuple[str, dict[str, Any]]]:
        """(receiver, alert) for every firing alert of that name received so far."""
        with self._lock:
            return [
                (n.receiver, a)
                for n in self.received
                for a in n.body.get("alerts", [])
                if a["labels"].get("alertname") == alertname and a["status"] == "firing"
            ]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def wait_for(check: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout_s:g} s (last: {last!r})")
