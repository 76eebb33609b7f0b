import {
  create,
  type DescMessage,
  fromBinary,
  isMessage,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import * as grpc from "@grpc/grpc-js";

/**
 * The thin adapter between protobuf-es and grpc-js: a grpc-js service definition (for
 * `server.addService`, and for clients) built from a generated service descriptor. Paths are
 * `/<package>.<Service>/<Method>`, bodies are the descriptors' binary encoding; no message
 * type is written by hand, and no .proto is read at run time.
 *
 * Methods are keyed by their generated `localName` (`validateOrder`), with the .proto name as
 * `originalName`, as grpc-js's own loaders do.
 */

type Serialize<T> = (value: T) => Buffer;
type Deserialize<T> = (bytes: Buffer) => T;

type Request<M> = M extends { input: infer I extends DescMessage } ? MessageShape<I> : never;
type Response<M> = M extends { output: infer O extends DescMessage } ? MessageShape<O> : never;
type RequestInit<M> = M extends { input: infer I extends DescMessage }
  ? MessageInitShape<I>
  : never;

/** The methods of a generated service descriptor (`typeof OrderValidationService`). */
export type MethodsOf<T> = T extends { method: infer M extends GenServiceMethods } ? M : never;

export type GrpcServiceDefinition<S extends GenServiceMethods> = {
  readonly [K in keyof S]: grpc.MethodDefinition<Request<S[K]>, Response<S[K]>>;
};

/** What `server.addService` takes for service S: grpc-js's handler types, with S's messages. */
export type GrpcServiceHandlers<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]["methodKind"] extends "unary"
    ? grpc.handleUnaryCall<Request<S[K]>, Response<S[K]>>
    : S[K]["methodKind"] extends "server_streaming"
      ? grpc.handleServerStreamingCall<Request<S[K]>, Response<S[K]>>
      : S[K]["methodKind"] extends "client_streaming"
        ? grpc.handleClientStreamingCall<Request<S[K]>, Response<S[K]>>
        : grpc.handleBidiStreamingCall<Request<S[K]>, Response<S[K]>>;
};

function serializer<D extends DescMessage>(schema: D): Serialize<MessageShape<D>> {
  return (message) => {
    // A plain object literal (no $typeName) is completed with its defaults first.
    const full = isMessage(message, schema)
      ? message
      : create(schema, message as MessageInitShape<D>);
    const bytes = toBinary(schema, full);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer<D extends DescMessage>(schema: D): Deserialize<MessageShape<D>> {
  return (bytes) => fromBinary(schema, bytes);
}

export function grpcServiceDefinition<S extends GenServiceMethods>(
  service: GenService<S>,
): GrpcServiceDefinition<S> {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const kind = method.methodKind;
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: kind === "client_streaming" || kind === "bidi_streaming",
      responseStream: kind === "server_streaming" || kind === "bidi_streaming",
      requestSerialize: serializer(method.input) as Serialize<unknown>,
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output) as Serialize<unknown>,
      responseDeserialize: deserializer(method.output),
    };
  }
  return definition as GrpcServiceDefinition<S>;
}

export interface GrpcCallOptions {
  metadata?: grpc.Metadata;
  /** An absolute deadline; see also `timeoutMs`. */
  deadline?: grpc.Deadline;
  /** A deadline this many milliseconds from now. */
  timeoutMs?: number;
}

/** A typed grpc-js client of service S: a promise per unary call, grpc-js streams otherwise. */
export type GrpcClient<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]["methodKind"] extends "unary"
    ? (request: RequestInit<S[K]>, options?: GrpcCallOptions) => Promise<Response<S[K]>>
    : S[K]["methodKind"] extends "server_streaming"
      ? (
          request: RequestInit<S[K]>,
          options?: GrpcCallOptions,
        ) => grpc.ClientReadableStream<Response<S[K]>>
      : S[K]["methodKind"] extends "client_streaming"
        ? (options?: GrpcCallOptions) => {
            requests: grpc.ClientWritableStream<RequestInit<S[K]>>;
            response: Promise<Response<S[K]>>;
          }
        : (options?: GrpcCallOptions) => grpc.ClientDuplexStream<RequestInit<S[K]>, Response<S[K]>>;
} & { readonly channel: grpc.Client; close(): void };

function callOptions(options: GrpcCallOptions | undefined): grpc.CallOptions {
  if (options?.deadline !== undefined) return { deadline: options.deadline };
  if (options?.timeoutMs !== undefined) return { deadline: Date.now() + options.timeoutMs };
  return {};
}

/**
 * A client of `service` at `address` (host:port). Plaintext HTTP/2 unless `credentials` say
 * otherwise. Request messages may be given as plain objects (`{ order: { items: [...] } }`).
 */
export function createGrpcClient<S extends GenServiceMethods>(
  service: GenService<S>,
  address: string,
  options: { credentials?: grpc.ChannelCredentials; channelOptions?: grpc.ChannelOptions } = {},
): GrpcClient<S> {
  const channel = new grpc.Client(
    address,
    options.credentials ?? grpc.credentials.createInsecure(),
    options.channelOptions,
  );
  const definition = grpcServiceDefinition(service) as Record<
    string,
    grpc.MethodDefinition<unknown, unknown>
  >;
  const client: Record<string, unknown> = {
    channel,
    close: () => channel.close(),
  };
  for (const method of service.methods) {
    const { path, requestSerialize, responseDeserialize } = definition[
      method.localName
    ] as grpc.MethodDefinition<unknown, unknown>;
    const metadataOf = (o?: GrpcCallOptions) => o?.metadata ?? new grpc.Metadata();
    client[method.localName] = {
      unary: (request: unknown, o?: GrpcCallOptions) =>
        new Promise((resolve, reject) => {
          channel.makeUnaryRequest(
            path,
            requestSerialize,
            responseDeserialize,
            request,
            metadataOf(o),
            callOptions(o),
            (error, response) => (error ? reject(error) : resolve(response)),
          );
        }),
      server_streaming: (request: unknown, o?: GrpcCallOptions) =>
        channel.makeServerStreamRequest(
          path,
          requestSerialize,
          responseDeserialize,
          request,
          metadataOf(o),
          callOptions(o),
        ),
      client_streaming: (o?: GrpcCallOptions) => {
        let requests: grpc.ClientWritableStream<unknown> | undefined;
        const response = new Promise((resolve, reject) => {
          requests = channel.makeClientStreamRequest(
            path,
            requestSerialize,
            responseDeserialize,
            metadataOf(o),
            callOptions(o),
            (error, value) => (error ? reject(error) : resolve(value)),
          );
        });
        return { requests, response };
      },
      bidi_streaming: (o?: GrpcCallOptions) =>
        channel.makeBidiStreamRequest(
          path,
          requestSerialize,
          responseDeserialize,
          metadataOf(o),
          callOptions(o),
        ),
    }[method.methodKind];
  }
  return client as GrpcClient<S>;
}
