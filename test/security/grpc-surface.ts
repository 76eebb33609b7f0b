import { createRequire } from "node:module";
import path from "node:path";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import * as contracts from "@taskflow/contracts";
import { grpcServiceDefinition } from "@taskflow/validator";

/**
 * The validator's gRPC surface as a client finds it: the services its reflection lists, each
 * method called with whatever credentials a test gives, whatever its streaming kind.
 */

/** Services anyone may call: probes and the description of the API (no data). */
export const PUBLIC_GRPC_SERVICES: readonly { name: string; why: string }[] = [
  { name: "grpc.health.v1.Health", why: "health probes (Kubernetes, grpc_health_probe)" },
  { name: "grpc.reflection.v1.ServerReflection", why: "describes the .proto files (grpcurl)" },
  { name: "grpc.reflection.v1alpha.ServerReflection", why: "describes the .proto files" },
];

const reflectionProto = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@grpc/reflection")),
  "../proto/grpc/reflection/v1/reflection.proto",
);

type ReflectionClient = grpc.Client & {
  ServerReflectionInfo(): grpc.ClientDuplexStream<
    Record<string, string>,
    { list_services_response?: { service: { name: string }[] } }
  >;
};

const reflection = grpc.loadPackageDefinition(
  protoLoader.loadSync(reflectionProto, { keepCase: true }),
) as unknown as {
  grpc: { reflection: { v1: { ServerReflection: new (...args: unknown[]) => ReflectionClient } } };
};

/** The services the server's reflection lists (without a token: reflection is open). */
export async function listedServices(url: string): Promise<string[]> {
  const client = new reflection.grpc.reflection.v1.ServerReflection(
    url,
    grpc.credentials.createInsecure(),
  );
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const stream = client.ServerReflectionInfo();
      stream.once(
        "data",
        (response: { list_services_response?: { service: { name: string }[] } }) => {
          resolve(response.list_services_response?.service.map((s) => s.name) ?? []);
          stream.end();
        },
      );
      stream.once("error", reject);
      stream.write({ list_services: "" });
    });
  } finally {
    client.close();
  }
}

/** Every service descriptor the contracts package generates, by full name. */
export function contractServices(): Map<string, GenService<GenServiceMethods>> {
  const services = new Map<string, GenService<GenServiceMethods>>();
  for (const value of Object.values(contracts)) {
    if (typeof value === "object" && value !== null && "kind" in value) {
      if ((value as { kind: unknown }).kind !== "service") continue;
      const service = value as unknown as GenService<GenServiceMethods>;
      services.set(service.typeName, service);
    }
  }
  return services;
}

export interface GrpcMethod {
  /** `/<package>.<Service>/<Method>` */
  path: string;
  kind: "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";
  definition: grpc.MethodDefinition<unknown, unknown>;
}

export function methodsOf(service: GenService<GenServiceMethods>): GrpcMethod[] {
  const definition = grpcServiceDefinition(service) as Record<
    string,
    grpc.MethodDefinition<unknown, unknown>
  >;
  return service.methods.map((method) => {
    const def = definition[method.localName] as grpc.MethodDefinition<unknown, unknown>;
    return { path: def.path, kind: method.methodKind, definition: def };
  });
}

export interface GrpcOutcome {
  code: grpc.status;
  /** Response messages received before the status. */
  messages: number;
}

/**
 * Calls `method` with `authorization` metadata (none if undefined) and an empty request (one
 * empty message on a stream): what came back before the status, and the status.
 */
export function callMethod(
  channel: grpc.Client,
  method: GrpcMethod,
  authorization: string | undefined,
): Promise<GrpcOutcome> {
  const metadata = new grpc.Metadata();
  if (authorization !== undefined) metadata.set("authorization", authorization);
  const options = { deadline: Date.now() + 10_000 };
  const { path: route, requestSerialize, responseDeserialize } = method.definition;
  return new Promise((resolve) => {
    let messages = 0;
    const settle = (code: grpc.status) => resolve({ code, messages });
    switch (method.kind) {
      case "unary":
        channel.makeUnaryRequest(
          route,
          requestSerialize,
          responseDeserialize,
          {},
          metadata,
          options,
          (error, response) => {
            if (response) messages++;
            settle(error ? error.code : grpc.status.OK);
          },
        );
        return;
      case "client_streaming": {
        const call = channel.makeClientStreamRequest(
          route,
          requestSerialize,
          responseDeserialize,
          metadata,
          options,
          (error, response) => {
            if (response) messages++;
            settle(error ? error.code : grpc.status.OK);
          },
        );
        call.write({});
        call.end();
        return;
      }
      case "server_streaming": {
        const call = channel.makeServerStreamRequest(
          route,
          requestSerialize,
          responseDeserialize,
          {},
          metadata,
          options,
        );
        call.on("data", () => messages++);
        call.on("error", () => undefined);
        call.on("status", (status) => settle(status.code));
        return;
      }
      case "bidi_streaming": {
        const call = channel.makeBidiStreamRequest(
          route,
          requestSerialize,
          responseDeserialize,
          metadata,
          options,
        );
        call.on("data", () => messages++);
        call.on("error", () => undefined);
        call.on("status", (status) => settle(status.code));
        call.write({});
        call.end();
        return;
      }
    }
  });
}
