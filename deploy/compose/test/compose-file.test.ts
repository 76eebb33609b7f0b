import { readFileSync } from "node:fs";
import path from "node:path";
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  COMPOSE_ENGINES,
  packageDir,
  repoRoot,
  TASKFLOW_ROLES,
  taskflowSettings,
} from "../../support/settings.ts";
import { pomKafkaVersion } from "../kafka-stand-in/build.ts";

/**
 * compose.yaml, read as a user's Compose would read it: valid against the Compose
 * Specification's JSON schema (the copy dclint ships), and a dependency graph in which every
 * service waits for what it needs. The stack itself runs in deploy/compose/e2e.
 */

interface Healthcheck {
  test?: string[] | string;
}
interface Service {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string };
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition?: string }> | string[];
  healthcheck?: Healthcheck;
  ports?: string[];
  container_name?: string;
  hostname?: string;
  restart?: string;
  volumes?: string[];
  read_only?: boolean;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const composeText = readFileSync(path.join(repoRoot, "compose.yaml"), "utf8");
// `<<` merge keys, as Compose reads them.
const compose = parse(composeText, { merge: true }) as ComposeFile;
const services = compose.services;
const envExample = readFileSync(path.join(repoRoot, ".env.example"), "utf8");

function dependencies(service: Service): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, "service_started"]));
  return Object.fromEntries(
    Object.entries(deps).map(([name, d]) => [name, d.condition ?? "service_started"]),
  );
}

const roles = Object.entries(services).filter(([, s]) =>
  s.build?.dockerfile?.endsWith("deploy/docker/Dockerfile"),
);
const taskflowRoles = roles.filter(([name]) => name !== "nginx");

describe("compose.yaml", () => {
  let compiled: ReturnType<Ajv["compile"]> | undefined;
  function composeSchemaValidator() {
    if (compiled) return compiled;
    const schema = JSON.parse(
      readFileSync(path.join(packageDir("dclint"), "schemas/compose.schema.json"), "utf8"),
    );
    // Draft-07, Ajv's own; its "$schema" is spelt with https, which Ajv does not know by name.
    delete schema.$schema;
    compiled = new Ajv({ allErrors: true, strict: false }).compile(schema);
    return compiled;
  }

  it("validates against the Compose Specification's JSON schema", () => {
    const validate = composeSchemaValidator();
    // Validated as written: variables unsubstituted, anchors and merge keys resolved.
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it("(the schema check rejects what Compose would: a misspelt key, a bad condition)", () => {
    const validate = composeSchemaValidator();
    const misspelt = structuredClone(compose) as unknown as {
      services: Record<string, Record<string, unknown>>;
    };
    (misspelt.services.api as Record<string, unknown>).helthcheck = {};
    expect(validate(misspelt)).toBe(false);
    const badCondition = structuredClone(compose);
    (badCondition.services.api?.depends_on as Record<string, { condition: string }>).postgres = {
      condition: "service_ready",
    };
    expect(validate(badCondition)).toBe(false);
  });

  it("runs the engines, a migration, every role and nginx", () => {
    expect(Object.keys(services).sort()).toEqual(
      [...COMPOSE_ENGINES, "migrate", ...TASKFLOW_ROLES, "nginx"].sort(),
    );
    expect(services.kafka?.image).toBe(`apache/kafka:${pomKafkaVersion()}`);
    expect(services.rabbitmq?.image).toMatch(/^rabbitmq:.*management/);
    expect(services.nginx?.ports?.some((p) => p.endsWith(":80"))).toBe(true);
  });

  it("never depends on a service that does not exist, and has no cycle", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dep of Object.keys(dependencies(service))) {
        expect(Object.keys(services), `${name} depends on ${dep}`).toContain(dep);
      }
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, trail: string[]) => {
      if (done.has(name)) return;
      expect(visiting.has(name), `cycle: ${[...trail, name].join(" → ")}`).toBe(false);
      visiting.add(name);
      for (const dep of Object.keys(dependencies(services[name] ?? {})))
        visit(dep, [...trail, name]);
      visiting.delete(name);
      done.add(name);
    };
    for (const name of Object.keys(services)) visit(name, []);
  });

  it("waits for a dependency's health only where it has a healthcheck, for a one-shot's success only where it exits", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependencies(service))) {
        expect(["service_healthy", "service_completed_successfully"], `${name} → ${dep}`).toContain(
          condition,
        );
        if (condition === "service_healthy")
          expect(services[dep]?.healthcheck?.test, `${dep} has no healthcheck`).toBeDefined();
        if (condition === "service_completed_successfully")
          expect(services[dep]?.restart, `${dep} restarts`).toBe("no");
      }
    }
  });

  it("makes every service that needs the database wait for it healthy, and for the migration", () => {
    const usesDatabase = Object.entries(services).filter(
      ([, s]) => s.environment?.TASKFLOW_DATABASE_URL !== undefined,
    );
    expect(usesDatabase.map(([name]) => name).sort()).toEqual(
      taskflowRoles.map(([name]) => name).sort(),
    );
    for (const [name, service] of usesDatabase) {
      const deps = dependencies(service);
      expect(deps.postgres, name).toBe("service_healthy");
      if (name !== "migrate") expect(deps.migrate, name).toBe("service_completed_successfully");
    }
  });

  it("makes every role wait for the engines its readiness checks and its start-up need", () => {
    // /readyz of every role but the validator pings the task queue and the job queue; the relay
    // and analytics create the stream's topics at start; nginx resolves api at start.
    for (const [name, service] of taskflowRoles) {
      const deps = dependencies(service);
      if (name === "migrate" || name === "validator") continue;
      expect(deps.rabbitmq, name).toBe("service_healthy");
      expect(deps.redis, name).toBe("service_healthy");
    }
    expect(dependencies(services.relay ?? {}).kafka).toBe("service_healthy");
    expect(dependencies(services.analytics ?? {}).kafka).toBe("service_healthy");
    expect(dependencies(services.api ?? {}).validator).toBe("service_healthy");
    expect(dependencies(services.nginx ?? {}).api).toBe("service_healthy");
  });

  it("gives every long-running service a healthcheck, the roles on their readiness endpoint", () => {
    for (const [name, service] of Object.entries(services)) {
      if (name === "migrate") continue;
      expect(service.healthcheck?.test, name).toBeDefined();
    }
    for (const [name, service] of taskflowRoles) {
      if (name === "migrate") continue;
      expect(JSON.stringify(service.healthcheck?.test), name).toContain("/readyz");
    }
  });

  it("lets the workers scale (`--scale worker=4`): no fixed name, host name or host port", () => {
    const worker = services.worker ?? {};
    expect(worker.container_name).toBeUndefined();
    expect(worker.hostname).toBeUndefined();
    expect(worker.ports).toBeUndefined();
  });

  it("runs the relay and the workers at a lower CPU priority than the API, with the same settings otherwise", () => {
    const api = services.api?.environment ?? {};
    for (const name of ["relay", "worker"]) {
      const { TASKFLOW_NICE, ...rest } = services[name]?.environment ?? {};
      expect(Number(TASKFLOW_NICE), name).toBeGreaterThan(0);
      expect(rest, name).toEqual(api);
    }
    expect(api.TASKFLOW_NICE).toBeUndefined();
  });

  it("keeps the engines' data in named volumes", () => {
    const mounts: Record<string, string> = {
      postgres: "/var/lib/postgresql/data",
      redis: "/data",
      rabbitmq: "/var/lib/rabbitmq",
      kafka: "/var/lib/kafka/data",
    };
    for (const [name, target] of Object.entries(mounts)) {
      const volume = services[name]?.volumes?.find((v) => v.endsWith(`:${target}`));
      expect(volume, name).toBeDefined();
      expect(Object.keys(compose.volumes ?? {})).toContain(volume?.split(":")[0]);
    }
  });

  it("publishes every host port through a variable, so that it can move off a taken one", () => {
    for (const [name, service] of Object.entries(services)) {
      for (const port of service.ports ?? []) {
        expect(port, name).toMatch(/^(127\.0\.0\.1:)?\$\{[A-Z_]+:-\d+\}:\d+$/);
      }
    }
  });

  it("builds the roles from deploy/docker/Dockerfile, one target each, read-only", () => {
    const dockerfile = readFileSync(path.join(repoRoot, "deploy/docker/Dockerfile"), "utf8");
    for (const [name, service] of roles) {
      const target = service.build?.target;
      expect(target, name).toBeDefined();
      expect(dockerfile, `${name}: target ${target}`).toMatch(
        new RegExp(`^FROM \\S+ AS ${target}$`, "m"),
      );
      expect(service.image, name).toMatch(new RegExp(`^taskflow/${target}:`));
      expect(service.read_only, name).toBe(true);
    }
  });

  it("lists every setting in .env.example, and every variable compose.yaml reads", () => {
    for (const setting of taskflowSettings()) {
      expect(envExample, setting).toMatch(new RegExp(`\\b${setting}\\b`));
    }
    const variables = new Set(
      [...composeText.matchAll(/(?<!\$)\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1] as string),
    );
    for (const variable of variables) {
      expect(envExample, variable).toMatch(new RegExp(`^${variable}=`, "m"));
    }
    // …and passes every setting it lists to the roles, or sets it itself.
    const roleEnvironment = services.api?.environment ?? {};
    for (const line of envExample.matchAll(/^(TASKFLOW_[A-Z0-9_]+)=/gm)) {
      const setting = line[1] as string;
      if (["TASKFLOW_HTTP_PORT", "TASKFLOW_IMAGE_TAG"].includes(setting)) continue;
      expect(Object.keys(roleEnvironment), setting).toContain(setting);
    }
  });
});
