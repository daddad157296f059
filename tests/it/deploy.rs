//! The container image and Kubernetes manifests under deploy/, checked structurally: they
//! are parsed and the fields that make a deployment work (or fail) are compared with each
//! other and with the gateway itself. Nothing here runs Docker or a cluster.

use std::path::{Path, PathBuf};

use mcp_gateway::config::Config;
use serde_yaml_ng::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn manifest(name: &str) -> Value {
    let path = deploy().join("kubernetes").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

#[test]
fn kubernetes_manifests_fit_together_and_fit_the_gateway() {
    let deployment = manifest("deployment.yaml");
    let service = manifest("service.yaml");
    let configmap = manifest("configmap.yaml");
    let secret = manifest("secret.yaml");
    let hpa = manifest("hpa.yaml");
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(service["kind"], "Service");
    assert_eq!(configmap["kind"], "ConfigMap");
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(hpa["kind"], "HorizontalPodAutoscaler");

    let pod = &deployment["spec"]["template"]["spec"];
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(&deployment["spec"]["selector"]["matchLabels"], labels);
    assert_eq!(&service["spec"]["selector"], labels);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert!(container["resources"]["limits"]["memory"].is_string());

    // The config the pods load is a valid gateway.yaml that asks for the Secret's token.
    let yaml = s(&configmap["data"]["gateway.yaml"]);
    let config = Config::from_yaml(yaml, Path::new("/etc/mcp-gateway/gateway.yaml")).unwrap();
    let token_var = match &config.http.token {
        Some(mcp_gateway::config::SecretSource::Env(var)) => var.clone(),
        other => panic!("the ConfigMap must name the token variable, got {other:?}"),
    };
    let env = container["env"].as_sequence().unwrap();
    let from_secret = env
        .iter()
        .find(|e| e["name"] == token_var.as_str())
        .unwrap_or_else(|| panic!("{token_var} is not set in the Deployment"));
    let key_ref = &from_secret["valueFrom"]["secretKeyRef"];
    assert_eq!(key_ref["name"], secret["metadata"]["name"]);
    assert!(secret["stringData"][s(&key_ref["key"])].is_string());

    // The config is mounted where --config points, and the listener binds the container port.
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    let config_path = args[args.iter().position(|a| *a == "--config").unwrap() + 1];
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| config_path.starts_with(s(&m["mountPath"])))
        .expect("the config file is on a mounted volume");
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(volume["configMap"]["name"], configmap["metadata"]["name"]);
    let listen = args[args.iter().position(|a| *a == "--http").unwrap() + 1];
    let port = listen.rsplit_once(':').unwrap().1.parse::<u64>().unwrap();
    let container_port = &container["ports"][0];
    assert_eq!(container_port["containerPort"].as_u64(), Some(port));
    assert!(args.contains(&"--no-stdio"));

    // Probes hit /health on that port with a Host the listener accepts (it checks Host on
    // every route, /health included).
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], "/health", "{probe}");
        assert_eq!(get["port"], container_port["name"], "{probe}");
        let host = get["httpHeaders"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|h| h["name"] == "Host")
            .unwrap_or_else(|| panic!("{probe} sends no Host header"));
        assert_eq!(s(&host["value"]), format!("localhost:{port}"), "{probe}");
    }

    // The Service reaches that port and keeps a 2025-era session on one replica.
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(service_port["targetPort"], container_port["name"]);
    assert_eq!(service["spec"]["sessionAffinity"], "ClientIP");
    let svc = s(&service["metadata"]["name"]);
    assert!(
        config.http.allowed_hosts.iter().any(|h| h == svc),
        "the Service name must be an allowed Host"
    );

    // The autoscaler scales this Deployment.
    let target = &hpa["spec"]["scaleTargetRef"];
    assert_eq!(target["kind"], "Deployment");
    assert_eq!(target["name"], deployment["metadata"]["name"]);
    assert!(hpa["spec"]["minReplicas"].as_u64().unwrap() >= 1);
}

#[test]
fn dockerfile_runs_the_gateway_as_non_root_from_a_distroless_image() {
    let text = std::fs::read_to_string(deploy().join("Dockerfile")).unwrap();
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(froms.len() >= 2, "multi-stage build");
    assert!(froms.last().unwrap().contains("distroless"), "{froms:?}");
    let user = text
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(
        !user.contains("root:") || user.contains("nonroot"),
        "{user}"
    );
    assert!(text.contains("--locked"));
    let cmd = text.lines().rfind(|l| l.starts_with("CMD ")).unwrap();
    assert!(
        cmd.contains("--http") && cmd.contains("--no-stdio"),
        "{cmd}"
    );
}
