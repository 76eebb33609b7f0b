import { createRequire } from "node:module";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { CatalogService, OrderValidationService } from "@taskflow/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startValidator, type TestValidator } from "./validator-fixture.ts";

// The reflection client, as grpcurl would be: from the .proto @grpc/reflection ships.
const reflectionProto = path.join(
  path.dirname(createRequire(import.meta.url).resolve("@grpc/reflection")),
  "../proto/grpc/reflection/v1/reflection.proto",
);

interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

type ReflectionClient = grpc.Client & {
  ServerReflectionInfo(): grpc.ClientDuplexStream<Record<string, string>, ReflectionResponse>;
};

const reflectionPackage = grpc.loadPackageDefinition(
  protoLoader.loadSync(reflectionProto, { keepCase: true }),
) as unknown as {
  grpc: { reflection: { v1: { ServerReflection: new (...args: unknown[]) => ReflectionClient } } };
};

/** One reflection request over its own stream (no token: reflection is open). */
function ask(url: string, request: Record<string, string>): Promise<ReflectionResponse> {
  const client = new reflectionPackage.grpc.reflection.v1.ServerReflection(
    url,
    grpc.credentials.createInsecure(),
  );
  return new Promise<ReflectionResponse>((resolve, reject) => {
    const call = client.ServerReflectionInfo();
    call.once("data", (response: ReflectionResponse) => {
      resolve(response);
      call.end();
    });
    call.once("error", reject);
    call.write(request);
  }).finally(() => client.close());
}

describe("server reflection", () => {
  let v: TestValidator;
  beforeAll(async () => {
    v = await startValidator();
  });
  afterAll(() => v?.close());

  it("lists both services, and health", async () => {
    const response = await ask(v.url, { list_services: "" });
    const names = response.list_services_response?.service.map((s) => s.name) ?? [];
    expect(names).toEqual(
      expect.arrayContaining([
        OrderValidationService.typeName,
        CatalogService.typeName,
        "grpc.health.v1.Health",
      ]),
    );
  });

  it("describes a service's methods, streaming included, from the .proto files", async () => {
    const response = await ask(v.url, {
      file_containing_symbol: OrderValidationService.typeName,
    });
    const files = (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
    const service = files
      .flatMap((file) => file.service)
      .find((s) => s.name === OrderValidationService.name);
    expect(
      service?.method.map((m) => ({
        name: m.name,
        clientStreaming: m.clientStreaming ?? false,
        serverStreaming: m.serverStreaming ?? false,
      })),
    ).toEqual([
      { name: "ValidateOrder", clientStreaming: false, serverStreaming: false },
      { name: "ValidateOrders", clientStreaming: true, serverStreaming: true },
    ]);
  });
});
