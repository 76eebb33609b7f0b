// The images' health probe (Dockerfile HEALTHCHECK, compose healthchecks): GET one of the
// role's operations endpoints on loopback and exit 0 on a 2xx. A node script because the slim
// base image has neither curl nor wget. The path is the first argument (default /healthz:
// the process serves; /readyz: its engines answer too). Roles whose TASKFLOW_PORT speaks gRPC
// (the validator) serve HTTP on TASKFLOW_OPS_PORT.
const port = process.env.TASKFLOW_OPS_PORT || process.env.TASKFLOW_PORT || "8080";
const path = process.argv[2] ?? "/healthz";
try {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, {
    signal: AbortSignal.timeout(2_500),
  });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
