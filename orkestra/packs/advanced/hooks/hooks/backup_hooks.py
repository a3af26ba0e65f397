"""Hooks of the `backup` entry: Python for what the YAML templates cannot express.

`backup_hooks` is the factory the Katalog names; Orkestra calls it once when the CRD activates
and calls the returned callbacks with `(ctx, obj)` on each reconcile.
"""


def backup_hooks():
    def on_create(ctx, obj):
        ctx.event("Normal", "BackupScheduled",
                  f"backups of {obj['spec'].get('database', '?')} scheduled in {ctx.args['region']}")

    def on_reconcile(ctx, obj):
        name = obj["metadata"]["name"]
        schedule = obj["spec"].get("schedule", "0 2 * * *")
        ctx.apply({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-schedule"},
            "data": {"schedule": schedule, "region": ctx.args["region"],
                     "retention": str(ctx.args["retentionDays"])},
        })
        ctx.set_status("lastScheduled", schedule)

    return {"on_create": on_create, "on_reconcile": on_reconcile}
