"""Command lines of the three components (docs/architecture.md's flag list)."""
from pathlib import Path

from orkestra.testing import flags

LAYOUT = flags.Layout(bin_dir=Path("/bin-dir"), root=Path("/root-dir"),
                      etcd_client_port=2001, etcd_peer_port=2002, apiserver_port=6001)

ROUTES_WITH_DEFAULT = """Iface\tDestination\tGateway \tFlags
eth0\t00000000\t010200C0\t0003
eth0\t000200C0\t00000000\t0001
"""
ROUTES_WITHOUT_DEFAULT = """Iface\tDestination\tGateway \tFlags
eth0\t000200C0\t00000000\t0001
"""


def test_etcd_listens_on_loopback_ports_with_its_data_dir():
    command = flags.etcd_command(LAYOUT)
    assert command[0] == "/bin-dir/etcd"
    assert "--data-dir=/root-dir/etcd" in command
    assert "--listen-client-urls=https://127.0.0.1:2001" in command
    assert "--listen-peer-urls=https://127.0.0.1:2002" in command
    assert "--initial-cluster=default=https://127.0.0.1:2002" in command
    assert "--unsafe-no-fsync=true" in command


def test_apiserver_flags_follow_the_spec():
    command = flags.apiserver_command(LAYOUT, has_default_route=True)
    assert command[0] == "/bin-dir/kube-apiserver"
    for flag in ("--etcd-servers=https://127.0.0.1:2001", "--bind-address=127.0.0.1", "--secure-port=6001",
                 "--authorization-mode=RBAC", "--allow-privileged=true",
                 "--disable-admission-plugins=ServiceAccount",
                 "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                 "--service-account-issuer=https://127.0.0.1:6001/",
                 "--client-ca-file=/root-dir/certs/client-ca.crt",
                 "--tls-cert-file=/root-dir/certs/serving.crt",
                 "--service-cluster-ip-range=10.0.0.0/24"):
        assert flag in command
    assert not [f for f in command if f.startswith("--advertise-address")]


def test_without_a_default_route_loopback_is_advertised_and_the_endpoint_reconciler_is_off():
    command = flags.apiserver_command(LAYOUT, has_default_route=False)
    assert "--advertise-address=127.0.0.1" in command
    assert "--endpoint-reconciler-type=none" in command


def test_default_route_is_read_from_proc_net_route():
    assert flags.has_default_route(ROUTES_WITH_DEFAULT) is True
    assert flags.has_default_route(ROUTES_WITHOUT_DEFAULT) is False
    assert flags.has_default_route("") is False


def test_controller_manager_runs_gc_and_namespace_controllers_with_the_admin_kubeconfig():
    command = flags.controller_manager_command(LAYOUT)
    assert command[0] == "/bin-dir/kube-controller-manager"
    controllers = next(f for f in command if f.startswith("--controllers=")).split("=", 1)[1].split(",")
    assert {"garbage-collector-controller", "namespace-controller"} <= set(controllers)
    assert "--kubeconfig=/root-dir/admin.kubeconfig" in command
    assert "--leader-elect=false" in command
    assert "--secure-port=0" in command


def test_controller_manager_signs_client_csrs_with_the_client_ca():
    command = flags.controller_manager_command(LAYOUT)
    assert "certificatesigningrequest-signing-controller" in next(f for f in command if f.startswith("--controllers="))
    assert "--cluster-signing-kube-apiserver-client-cert-file=/root-dir/certs/client-ca.crt" in command
    assert "--cluster-signing-kube-apiserver-client-key-file=/root-dir/certs/client-ca.key" in command
