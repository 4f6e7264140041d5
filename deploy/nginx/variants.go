package nginx

import "emporium/deploy"

// The committed variants, for the containers' gateway: the unprivileged
// Nginx image (nginx.Image), its files under /tmp, logs on the standard
// streams, and upstreams that are DNS names re-resolved every 10 seconds.
// `make generate` writes them; a test fails while they are out of date.
const (
	// ComposeFile is Compose's, where each service's name resolves (Docker's
	// DNS at 127.0.0.11) to every replica.
	ComposeFile = "compose.conf"
	// KubernetesFile is Kubernetes' (relative to deploy/nginx), where
	// <service>-pods is each service's headless Service in the emporium
	// namespace: the replicas' own addresses, not one virtual IP, so that
	// least_conn and passive health see every replica.
	KubernetesFile = "../k8s/base/gateway/nginx.conf"
)

// Image is the gateway's container image: Nginx 1.28 (re-resolving upstream
// servers needs 1.27.3 or later), running as a non-root user on port 8080.
const Image = "nginxinc/nginx-unprivileged:1.28-alpine"

// Compose returns Compose's variant.
func Compose() Config {
	return containerConfig("Compose (deploy/compose.yaml)", "127.0.0.11",
		func(s deploy.Service) string { return s.Name + ":8080" })
}

// Kubernetes returns Kubernetes' variant.
func Kubernetes() Config {
	return containerConfig("Kubernetes (deploy/k8s/base/gateway)", "kube-dns.kube-system.svc.cluster.local",
		func(s deploy.Service) string { return s.Name + "-pods.emporium.svc.cluster.local:8080" })
}

func containerConfig(header, resolver string, server func(deploy.Service) string) Config {
	cfg := Config{Header: header, Services: deploy.Services(), Listen: "8080", Resolver: resolver,
		Servers: map[string][]string{}, AuthRate: "10r/s", AuthBurst: 20, Workers: "auto",
		PidFile: "/tmp/nginx.pid", TempDir: "/tmp", ErrorLog: "stderr", AccessLog: "/dev/stdout"}
	for _, s := range cfg.Services {
		cfg.Servers[s.Name] = []string{server(s)}
	}
	return cfg
}
