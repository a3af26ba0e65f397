"""Hooks of the `app` entry, with a deliberate bug (see the README's "The fix").

The sample App has no `spec.config`, so `obj["spec"].get("config")` is None and `.endpoint`
raises AttributeError on every reconcile. Orkestra contains the exception: the App CRD
degrades, Monitor and Queue keep working, and the process stays up.
"""


def app_hooks():
    def on_reconcile(ctx, obj):
        config = obj["spec"].get("config")
        endpoint = config.endpoint          # the bug: config is a dict, or None when absent
        ctx.apply({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": f"{obj['metadata']['name']}-app"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": obj["metadata"]["name"]}},
                "template": {
                    "metadata": {"labels": {"app": obj["metadata"]["name"]}},
                    "spec": {"containers": [{"name": "app", "image": obj["spec"].get("image", "nginx:1.27"),
                                             "env": [{"name": "ENDPOINT", "value": endpoint}]}]},
                },
            },
        })

    return {"on_reconcile": on_reconcile}
