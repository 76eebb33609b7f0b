import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger, createMetrics, startOpsServer } from "@taskflow/observability";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  loadTool,
  packageDir,
  repoRoot,
  requireTools,
  TASKFLOW_ROLES,
  taskflowSettings,
} from "../../support/settings.ts";

/**
 * What `kubectl apply -k deploy/k8s/overlays/{dev,prod}` would send, rendered by kustomize
 * (kubectl's built-in one) and checked without a cluster:
 * - against the Kubernetes API's schemas of KUBERNETES_VERSION: kubernetes-models' validators
 *   (compiled from that version's OpenAPI: types, required fields, enums, formats), and its
 *   TypeScript declarations for what the OpenAPI schema lets through, unknown fields (a
 *   misspelt `livenesProbe` is dropped by the API server, or refused under strict validation);
 * - every Service selects the pods of a Deployment or StatefulSet on ports they declare, every
 *   probe asks a path its container serves, and the rules docs/deploy.md states.
 */

/** The Kubernetes release whose API schemas kubernetes-models 4.5 was generated from. */
const KUBERNETES_VERSION = "1.33.0";
const OVERLAYS = ["dev", "prod"] as const;

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}
interface Probe {
  httpGet?: { path?: string; port: string | number };
  exec?: { command: string[] };
  tcpSocket?: { port: string | number };
}
interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { drop?: string[] };
  };
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string> };
  spec: {
    containers: Container[];
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  };
}
interface Resource {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: PodTemplate;
    ports?: { name?: string; port: number; targetPort?: string | number }[];
    type?: string;
    scaleTargetRef?: { kind: string; name: string };
    rules?: {
      http?: { paths: { backend: { service: { name: string; port: { name?: string } } } }[] };
    }[];
    volumeClaimTemplates?: unknown[];
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

function kubectl(): string | undefined {
  const found = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  if (found.status === 0) return "kubectl";
  if (requireTools)
    throw new Error("kubectl (its kustomize) is required (TASKFLOW_REQUIRE_SERVICES=1)");
  return undefined;
}

const kubectlCommand = kubectl();

function render(overlay: string): Resource[] {
  const text = execFileSync(
    kubectlCommand ?? "kubectl",
    ["kustomize", path.join(repoRoot, "deploy/k8s/overlays", overlay)],
    { encoding: "utf8" },
  );
  return parseAllDocuments(text).map((doc) => doc.toJS() as Resource);
}

/** kubernetes-models' module for an apiVersion and kind: apps/v1 Deployment → apps/v1/Deployment. */
function modelPath(resource: Resource): string {
  return `kubernetes-models/${resource.apiVersion}/${resource.kind}`;
}

type ModelClass = new (data: unknown) => { validate(): void };

function workloads(resources: Resource[]): Resource[] {
  return resources.filter((r) => ["Deployment", "StatefulSet", "Job"].includes(r.kind));
}

function selects(selector: Record<string, string>, labels: Record<string, string> = {}) {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function probes(container: Container): [string, Probe][] {
  return (["livenessProbe", "readinessProbe", "startupProbe"] as const).flatMap((kind) =>
    container[kind] ? [[kind, container[kind]] as [string, Probe]] : [],
  );
}

/** The HTTP paths a container of ours answers (anything but 404), asked of the real routes. */
async function servedPaths(image: string, paths: string[]): Promise<Set<string>> {
  const served = new Set<string>();
  if (/taskflow\/web(:|$)/.test(image)) {
    // nginx: an exact location of deploy/nginx/nginx.conf (everything else is the app).
    const conf = readFileSync(path.join(repoRoot, "deploy/nginx/nginx.conf"), "utf8");
    for (const p of paths) if (conf.includes(`location = ${p} {`)) served.add(p);
    return served;
  }
  // Every TaskFlow role serves the operations routes (packages/observability): started for real.
  const { app, url } = await startOpsServer({
    host: "127.0.0.1",
    port: 0,
    logger: createLogger({ level: "silent", service: "k8s-manifest-test" }),
    checks: {},
    metrics: createMetrics("k8s-manifest-test"),
  });
  try {
    for (const p of paths) {
      const response = await fetch(`${url}${p}`);
      if (response.status !== 404) served.add(p);
    }
  } finally {
    await app.close();
  }
  return served;
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Type-checks the rendered resources against kubernetes-models' declarations: an object
 * literal `satisfies IDeployment` refuses a property the type does not have.
 */
function unknownFields(resources: Resource[]): string[] {
  const modelsDir = packageDir("kubernetes-models");
  const nodeModules = path.dirname(modelsDir);
  const dir = mkdtempSync(path.join(tmpdir(), "k8s-types-"));
  tempDirs.push(dir);
  const lines = resources.map((r, i) => {
    const type = `import("${modelPath(r)}").I${r.kind}`;
    return `// ${r.kind}/${r.metadata.name}\nexport const r${i} = ${JSON.stringify(r, null, 2)} satisfies ${type};`;
  });
  const file = path.join(dir, "resources.ts");
  writeFileSync(file, `${lines.join("\n\n")}\n`);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ["lib.es2020.d.ts"],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    baseUrl: nodeModules,
    paths: { "*": [`${nodeModules}/*`] },
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where =
      d.file && d.start !== undefined
        ? (() => {
            const { line } = d.file.getLineAndCharacterOfPosition(d.start);
            const header = d.file.text
              .slice(0, d.start)
              .split("\n")
              .reverse()
              .find((l) => l.startsWith("// "));
            return `${header?.slice(3) ?? "?"} (line ${line + 1})`;
          })()
        : "";
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`;
  });
}

describe.skipIf(!kubectlCommand)(
  `Kubernetes manifests (kustomize; API schemas of Kubernetes ${KUBERNETES_VERSION})`,
  () => {
    const rendered = Object.fromEntries(OVERLAYS.map((o) => [o, render(o)])) as Record<
      (typeof OVERLAYS)[number],
      Resource[]
    >;

    describe.each(OVERLAYS)("overlay %s", (overlay) => {
      const resources = rendered[overlay];

      it("validates every resource against the API schema of its kind", () => {
        const failures: string[] = [];
        for (const resource of resources) {
          const module = loadTool<Record<string, ModelClass>>(modelPath(resource));
          const Model = module[resource.kind];
          if (!Model) {
            failures.push(`${resource.kind}: no schema in ${modelPath(resource)}`);
            continue;
          }
          try {
            new Model(resource).validate();
          } catch (error) {
            failures.push(`${resource.kind}/${resource.metadata.name}: ${String(error)}`);
          }
        }
        expect(failures).toEqual([]);
      });

      it("has no field the API does not know", () => {
        expect(unknownFields(resources)).toEqual([]);
      }, 120_000);

      it("puts everything in the taskflow namespace", () => {
        for (const r of resources) {
          if (r.kind === "Namespace") expect(r.metadata.name).toBe("taskflow");
          else expect(r.metadata.namespace, `${r.kind}/${r.metadata.name}`).toBe("taskflow");
        }
      });

      it("selects, with every Service, the pods of a Deployment or StatefulSet, on ports they declare", () => {
        const services = resources.filter((r) => r.kind === "Service");
        expect(services.length).toBeGreaterThan(0);
        for (const service of services) {
          const selector = service.spec?.selector ?? {};
          expect(Object.keys(selector).length, service.metadata.name).toBeGreaterThan(0);
          const targets = resources.filter(
            (r) =>
              ["Deployment", "StatefulSet"].includes(r.kind) &&
              selects(selector, r.spec?.template?.metadata?.labels),
          );
          expect(targets.length, `Service ${service.metadata.name} selects no pods`).toBe(1);
          const containerPorts = (targets[0]?.spec?.template?.spec.containers ?? []).flatMap(
            (c) => c.ports ?? [],
          );
          for (const port of service.spec?.ports ?? []) {
            const target = port.targetPort ?? port.port;
            expect(
              containerPorts.some((p) => p.name === target || p.containerPort === target),
              `Service ${service.metadata.name} port ${port.name}: no container port ${target}`,
            ).toBe(true);
          }
        }
      });

      it("points the Ingress, the autoscalers and the disruption budgets at what exists", () => {
        const named = (kind: string, name: string) =>
          resources.find((r) => r.kind === kind && r.metadata.name === name);
        for (const ingress of resources.filter((r) => r.kind === "Ingress")) {
          for (const rule of ingress.spec?.rules ?? []) {
            for (const { backend } of rule.http?.paths ?? []) {
              const service = named("Service", backend.service.name);
              expect(service, backend.service.name).toBeDefined();
              expect(service?.spec?.ports?.map((p) => p.name)).toContain(backend.service.port.name);
            }
          }
        }
        const hpas = resources.filter((r) => r.kind === "HorizontalPodAutoscaler");
        expect(hpas.map((h) => h.metadata.name).sort()).toEqual(["api", "worker"]);
        for (const hpa of hpas) {
          const target = hpa.spec?.scaleTargetRef;
          const deployment = named(target?.kind ?? "", target?.name ?? "");
          expect(deployment, hpa.metadata.name).toBeDefined();
          // The autoscaler owns the count: a replicas field would be reset by every apply.
          expect(deployment?.spec?.replicas, hpa.metadata.name).toBeUndefined();
        }
        for (const pdb of resources.filter((r) => r.kind === "PodDisruptionBudget")) {
          const selector = pdb.spec?.selector?.matchLabels ?? {};
          expect(
            resources.some(
              (r) =>
                r.kind === "Deployment" && selects(selector, r.spec?.template?.metadata?.labels),
            ),
            pdb.metadata.name,
          ).toBe(true);
        }
      });

      it("probes every Deployment's liveness on /healthz and readiness on /readyz (or nginx's own), on paths its container serves", async () => {
        for (const workload of workloads(resources)) {
          for (const container of workload.spec?.template?.spec.containers ?? []) {
            const checks = probes(container);
            if (workload.kind === "Deployment") {
              expect(container.livenessProbe, `${workload.metadata.name} liveness`).toBeDefined();
              expect(container.readinessProbe, `${workload.metadata.name} readiness`).toBeDefined();
            }
            const httpPaths = checks.flatMap(([, p]) => (p.httpGet?.path ? [p.httpGet.path] : []));
            if (!container.image.includes("taskflow/")) {
              // The engines' own images (dev overlay): their probes run their own tools.
              continue;
            }
            const served = await servedPaths(container.image, httpPaths);
            for (const [kind, probe] of checks) {
              const where = `${workload.metadata.name} ${kind}`;
              expect(probe.httpGet, where).toBeDefined();
              expect(served, `${where}: ${probe.httpGet?.path} is not served`).toContain(
                probe.httpGet?.path,
              );
              const port = probe.httpGet?.port;
              expect(
                container.ports?.some((p) => p.name === port || p.containerPort === port),
                `${where}: no container port ${port}`,
              ).toBe(true);
            }
            if (!container.image.includes("taskflow/web") && workload.kind === "Deployment") {
              expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
              expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
            }
          }
        }
      });

      it("runs TaskFlow's containers as non-root, read-only, without privilege escalation, within resource limits", () => {
        for (const workload of workloads(resources)) {
          const pod = workload.spec?.template?.spec;
          for (const container of pod?.containers ?? []) {
            const where = `${workload.kind}/${workload.metadata.name}`;
            expect(
              container.securityContext?.runAsNonRoot ?? pod?.securityContext?.runAsNonRoot,
              where,
            ).toBe(true);
            expect(pod?.securityContext?.runAsUser, where).toBeGreaterThan(0);
            expect(container.securityContext?.allowPrivilegeEscalation, where).toBe(false);
            expect(container.securityContext?.capabilities?.drop, where).toEqual(["ALL"]);
            for (const kind of ["requests", "limits"] as const) {
              expect(container.resources?.[kind]?.cpu, `${where} ${kind}`).toBeDefined();
              expect(container.resources?.[kind]?.memory, `${where} ${kind}`).toBeDefined();
            }
            // The engines' images (dev) write their configuration at start; ours never write.
            if (
              container.image.includes("taskflow/") ||
              ["postgres", "redis"].includes(container.name)
            )
              expect(container.securityContext?.readOnlyRootFilesystem, where).toBe(true);
          }
        }
      });

      it("configures the roles with TaskFlow's own settings only", () => {
        const settings = new Set(taskflowSettings());
        const config = resources.find(
          (r) => r.kind === "ConfigMap" && r.metadata.name === "taskflow-config",
        );
        expect(config).toBeDefined();
        for (const key of Object.keys(config?.data ?? {})) expect(settings, key).toContain(key);
        const secret = resources.find(
          (r) => r.kind === "Secret" && r.metadata.name === "taskflow-secrets",
        );
        for (const key of Object.keys(secret?.stringData ?? {}))
          expect(settings, key).toContain(key);
        for (const workload of workloads(resources)) {
          for (const container of workload.spec?.template?.spec.containers ?? []) {
            if (!container.image.includes("taskflow/") || container.image.includes("taskflow/web"))
              continue;
            const sources = (container.envFrom ?? []).map(
              (e) => e.configMapRef?.name ?? e.secretRef?.name,
            );
            expect(sources, workload.metadata.name).toEqual([
              "taskflow-config",
              "taskflow-secrets",
            ]);
          }
        }
      });

      it("runs one migration Job and every role of the taskflow program", () => {
        const deployments = resources
          .filter((r) => r.kind === "Deployment")
          .map((r) => r.metadata.name);
        expect(deployments.sort()).toEqual([...TASKFLOW_ROLES, "web"].sort());
        const jobs = resources.filter((r) => r.kind === "Job");
        expect(jobs.map((j) => j.metadata.name)).toEqual(["migrate"]);
        expect(jobs[0]?.spec?.template?.spec.containers[0]?.image).toMatch(/taskflow\/migrate:/);
      });
    });

    it("runs PostgreSQL, Redis, RabbitMQ and Kafka in the cluster in dev, as StatefulSets with volumes", () => {
      const statefulSets = rendered.dev.filter((r) => r.kind === "StatefulSet");
      expect(statefulSets.map((s) => s.metadata.name).sort()).toEqual([
        "kafka",
        "postgres",
        "rabbitmq",
        "redis",
      ]);
      for (const set of statefulSets)
        expect(set.spec?.volumeClaimTemplates?.length, set.metadata.name).toBe(1);
      const config = rendered.dev.find((r) => r.kind === "ConfigMap");
      expect(config?.data?.NODE_ENV).toBe("development");
      expect(
        rendered.dev.some((r) => r.kind === "Secret" && r.metadata.name === "taskflow-secrets"),
      ).toBe(true);
    });

    it("expects the engines and the Secret from outside in prod", () => {
      expect(rendered.prod.filter((r) => r.kind === "StatefulSet")).toEqual([]);
      expect(rendered.prod.filter((r) => r.kind === "Secret")).toEqual([]);
      const config = rendered.prod.find((r) => r.kind === "ConfigMap");
      expect(config?.data?.NODE_ENV).toBe("production");
      for (const r of workloads(rendered.prod))
        for (const c of r.spec?.template?.spec.containers ?? [])
          expect(c.image).toMatch(/^registry\.example\.com\/taskflow\/[a-z]+:\d/);
      const kustomization = readFileSync(
        path.join(repoRoot, "deploy/k8s/overlays/prod/kustomization.yaml"),
        "utf8",
      );
      expect(kustomization).toMatch(/EXTERNAL/);
    });

    it("(the schema checks refuse a wrong type and an unknown field)", () => {
      const deployment = structuredClone(
        rendered.prod.find((r) => r.kind === "Deployment"),
      ) as Resource;
      const { Deployment } = loadTool<Record<string, ModelClass>>(modelPath(deployment));
      const wrongType = structuredClone(deployment) as unknown as { spec: { replicas: unknown } };
      wrongType.spec.replicas = "two";
      expect(() => new (Deployment as ModelClass)(wrongType).validate()).toThrow(/replicas/);
      const misspelt = structuredClone(deployment) as unknown as {
        spec: { template: { spec: { containers: Record<string, unknown>[] } } };
      };
      (misspelt.spec.template.spec.containers[0] as Record<string, unknown>).livenesProbe = {};
      expect(unknownFields([misspelt as unknown as Resource]).join("\n")).toMatch(/livenesProbe/);
    }, 120_000);
  },
);
