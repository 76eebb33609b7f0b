import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { NODE_FLAGS } from "../../../packages/cli/scripts/node-flags.ts";
import { repoRoot, TASKFLOW_ROLES } from "../../support/settings.ts";

/**
 * deploy/docker/Dockerfile read as a build would run it: dependency manifests installed before
 * any source (so a code change reuses node_modules), production dependencies only in what runs,
 * a non-root user and a HEALTHCHECK in every image. That it builds and runs with podman is
 * deploy/compose/e2e's part (npm run test:compose).
 */

const dockerfile = readFileSync(path.join(repoRoot, "deploy/docker/Dockerfile"), "utf8");
const SCRIPT = path.join(repoRoot, "deploy/docker/manifests.mjs");

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

/** The stages, with continuation lines joined. */
function stages(text: string): Stage[] {
  const logical = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const result: Stage[] = [];
  for (const line of logical) {
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) result.push({ from: from[1] as string, name: from[2] ?? "", lines: [] });
    else result.at(-1)?.lines.push(line);
  }
  return result;
}

const all = stages(dockerfile);
const byName = new Map(all.map((s) => [s.name, s]));

/** A stage's ancestors through FROM <stage>, itself first. */
function lineage(stage: Stage): Stage[] {
  const chain = [stage];
  for (let s = byName.get(stage.from); s; s = byName.get(s.from)) chain.push(s);
  return chain;
}

function workspaces(): string[] {
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
    workspaces: string[];
  };
  return pkg.workspaces.flatMap((pattern) => {
    const parent = pattern.replace(/\/\*$/, "");
    return readdirSync(path.join(repoRoot, parent))
      .map((name) => `${parent}/${name}`)
      .filter((dir) => existsSync(path.join(repoRoot, dir, "package.json")));
  });
}

const TARGETS: string[] = [...TASKFLOW_ROLES, "migrate", "web"];

describe("deploy/docker/Dockerfile", () => {
  it("extracts the dependency manifests in a stage of their own (deploy/docker/manifests.mjs)", () => {
    const manifests = byName.get("manifests");
    expect(manifests?.lines).toEqual([
      "COPY . /src",
      "RUN node /src/deploy/docker/manifests.mjs /src /manifests",
    ]);
  });

  it("extracts every workspace's manifest and the lockfile, the same whatever else changed", () => {
    const out = mkdtempSync(path.join(tmpdir(), "manifests-"));
    const edited = mkdtempSync(path.join(tmpdir(), "manifests-src-"));
    try {
      execFileSync(process.execPath, [SCRIPT, repoRoot, path.join(out, "a")]);
      const files = (dir: string) =>
        readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
          .sort();
      expect(files(path.join(out, "a"))).toEqual(
        [
          ".npmrc",
          "package-lock.json",
          "package.json",
          ...workspaces().map((d) => `${d}/package.json`),
        ].sort(),
      );
      // A copy whose manifests differ in scripts, exports and descriptions only…
      for (const dir of [".", ...workspaces()]) {
        const pkg = JSON.parse(readFileSync(path.join(repoRoot, dir, "package.json"), "utf8"));
        pkg.scripts = { ...pkg.scripts, extra: "echo changed" };
        pkg.exports = { ".": "./elsewhere.ts" };
        pkg.description = "changed";
        mkdirSync(path.join(edited, dir), { recursive: true });
        writeFileSync(path.join(edited, dir, "package.json"), JSON.stringify(pkg));
      }
      for (const file of [".npmrc", "package-lock.json"])
        cpSync(path.join(repoRoot, file), path.join(edited, file));
      execFileSync(process.execPath, [SCRIPT, edited, path.join(out, "b")]);
      // …gives the same bytes: the install layers are reused.
      for (const file of files(path.join(out, "a"))) {
        expect(readFileSync(path.join(out, "b", file), "utf8"), file).toBe(
          readFileSync(path.join(out, "a", file), "utf8"),
        );
      }
      // The dependencies themselves are kept.
      const cli = JSON.parse(readFileSync(path.join(out, "a/packages/cli/package.json"), "utf8"));
      expect(cli.dependencies["@taskflow/api"]).toBe("*");
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(edited, { recursive: true, force: true });
    }
  });

  it("installs dependencies from the manifests alone, before any source is copied", () => {
    for (const name of ["deps", "prod-deps"]) {
      const stage = byName.get(name);
      const lines = stage?.lines ?? [];
      const install = lines.findIndex((l) => /npm ci/.test(l));
      expect(install, name).toBeGreaterThan(-1);
      expect(
        lines.slice(0, install).some((l) => /^COPY \.\s/.test(l)),
        name,
      ).toBe(false);
      expect(
        lines.some((l) => l === "COPY --from=manifests /manifests ./"),
        name,
      ).toBe(true);
    }
    // The sources come in after the install, in the stages built on it.
    for (const name of ["build", "web-build"]) {
      expect(
        lineage(byName.get(name) as Stage).map((s) => s.name),
        name,
      ).toContain("deps");
    }
  });

  it("bundles from the packages and services it is made of, and builds the web app from its own", () => {
    const copied = (name: string) =>
      (byName.get(name)?.lines ?? []).flatMap((l) => /^COPY (\S+) \.\/\S*$/.exec(l)?.[1] ?? []);
    const build = copied("build");
    for (const dir of workspaces().filter(
      (d) => d !== "services/web" && !d.startsWith("packages/"),
    ))
      expect(build, dir).toContain(dir);
    expect(build).toContain("packages");
    expect(build).not.toContain("services/web");
    expect(copied("web-build")).toContain("services/web");
    expect(copied("web-build").filter((d) => d.startsWith("packages") || d === "services")).toEqual(
      [],
    );
  });

  it("puts production dependencies only into what runs", () => {
    const prod = byName.get("prod-deps")?.lines.join("\n") ?? "";
    expect(prod).toMatch(/npm ci --omit=dev/);
    const runtime = byName.get("program");
    // What runs is prod-deps' node_modules and the bundle: nothing from deps, build's output only.
    expect(runtime?.from).toBe("prod-deps");
    const fromStages = (runtime?.lines ?? []).flatMap((l) => /--from=(\S+)/.exec(l)?.[1] ?? []);
    expect(fromStages).toEqual(["build"]);
    expect(runtime?.lines).toContain(
      "COPY --from=build /app/packages/cli/dist ./packages/cli/dist",
    );
    expect(prod).toMatch(/rm -rf package\.json package-lock\.json \.npmrc packages services/);
  });

  it("has a target per service, each with a non-root user, a HEALTHCHECK (none for the one-shot) and a command", () => {
    for (const target of TARGETS) {
      const stage = byName.get(target);
      expect(stage, target).toBeDefined();
      const chain = lineage(stage as Stage);
      const last = (instruction: string) =>
        chain.flatMap((s) => s.lines.filter((l) => l.startsWith(`${instruction} `)))[0];
      const user = last("USER")?.slice(5).trim();
      expect(user, `${target} USER`).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
      const healthcheck = last("HEALTHCHECK");
      // The one-shot has none at all (not even NONE): it is waited for to exit, not to be healthy.
      if (target === "migrate") expect(healthcheck).toBeUndefined();
      else expect(healthcheck, `${target} HEALTHCHECK`).toMatch(/CMD/);
      expect(last("CMD"), `${target} CMD`).toBeDefined();
    }
    expect(byName.get("web")?.from).toMatch(/^\$\{NGINX_IMAGE\}|nginx/);
    const web = byName.get("web")?.lines.join("\n") ?? "";
    expect(web).toContain("COPY deploy/nginx/nginx.conf /etc/nginx/nginx.conf");
    expect(web).toMatch(
      /COPY --from=web-build \/app\/services\/web\/dist\/ \/usr\/share\/nginx\/html\//,
    );
  });

  it("starts node with the V8 flags of packages/cli/scripts/node-flags.ts, as `npm start` does", () => {
    const entrypoint = byName.get("program")?.lines.find((l) => l.startsWith("ENTRYPOINT "));
    const argv = JSON.parse(entrypoint?.slice("ENTRYPOINT ".length) ?? "[]") as string[];
    expect(argv[0]).toBe("node");
    expect(argv.slice(1, -1)).toEqual(expect.arrayContaining([...NODE_FLAGS]));
    const scripts = (
      JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(scripts.start).toContain(
      `node ${NODE_FLAGS.join(" ")} packages/cli/bin/taskflow.js start`,
    );
  });

  it("runs each role's command: the role's name, as the taskflow program takes it", () => {
    const cli = readFileSync(path.join(repoRoot, "packages/cli/src/main.ts"), "utf8");
    for (const target of TARGETS.filter((t) => !["web", "migrate"].includes(t))) {
      const cmd = byName.get(target)?.lines.find((l) => l.startsWith("CMD "));
      expect(cmd, target).toBe(`CMD ["${target}"]`);
      expect(cli, target).toContain(`"${target}",`);
    }
    expect(byName.get("migrate")?.lines).toContain('CMD ["migrate", "up"]');
  });

  it("keeps installed packages, build output, git and local settings out of the context", () => {
    const ignored = readFileSync(path.join(repoRoot, ".dockerignore"), "utf8").split("\n");
    for (const entry of ["**/node_modules", "**/dist", ".git", ".taskflow", ".env"]) {
      expect(ignored, entry).toContain(entry);
    }
  });
});

describe("deploy/compose/kafka-stand-in/Dockerfile", () => {
  it("runs the broker as the official image's appuser (uid 1000), from /etc/kafka/docker/run", () => {
    const standIn = stages(
      readFileSync(path.join(repoRoot, "deploy/compose/kafka-stand-in/Dockerfile"), "utf8"),
    );
    const lines = standIn.at(-1)?.lines ?? [];
    expect(lines).toContain("USER appuser");
    expect(lines.join("\n")).toMatch(/useradd -u 1000 .*appuser/);
    expect(lines).toContain('CMD ["/etc/kafka/docker/run"]');
  });
});
