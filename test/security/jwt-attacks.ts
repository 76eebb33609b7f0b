import {
  createHmac,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";

/**
 * Forged and misused access tokens. TaskFlow's tokens are HS256 JWTs with a shared secret,
 * issuer and audience "taskflow", `sub` the user's id and `email` (operator rights follow
 * it). Every forgery below speaks for the same victim, an operator, so that one that got
 * through would reach everything, the monitor included. Tokens are put together byte by byte
 * (no JWT library): the point is to send what a library would refuse to make.
 */

export interface Victim {
  id: string;
  email: string;
  name: string;
}

export interface AttackContext {
  victim: Victim;
  /** The services' real secret: the claim checks must hold even for a signature that does. */
  secret: string;
  /** A real token of another, ordinary user (the attacker's own), to tamper with. */
  attackerToken: string;
  /** A real token of a service (the API's own, for the validator). */
  serviceToken: string;
}

/** How a credential is presented. */
export type Credential =
  | { kind: "none" }
  | { kind: "token"; token: string }
  /** A valid token in the URL (?access_token=…&token=…), which must never be accepted. */
  | { kind: "query"; token: string };

export interface Attack {
  /** A short column name for the printed matrix. */
  id: string;
  what: string;
  /** Whether it applies to gRPC: there both kinds of token (users', services') are callers. */
  grpc: boolean;
  credential(context: AttackContext): Credential;
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

function hs256(header: object, payload: object, key: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", key).update(input).digest("base64url")}`;
}

function asymmetric(
  header: { alg: "RS256" | "ES256" } & Record<string, unknown>,
  payload: object,
  key: KeyObject,
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = sign("sha256", Buffer.from(input), {
    key,
    ...(header.alg === "ES256" ? { dsaEncoding: "ieee-p1363" as const } : {}),
  });
  return `${input}.${signature.toString("base64url")}`;
}

// The attacker's own key pairs: the services have no public key, so "confusion" means
// getting them to accept a signature by a key they never trusted.
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const rsaPublicPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
const rsaJwk = rsa.publicKey.export({ format: "jwk" });
const ecJwk = ec.publicKey.export({ format: "jwk" });

const now = () => Math.floor(Date.now() / 1000);

/** The claims of a token that would be valid for the victim, but for its signature. */
function claims(victim: Victim, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    email: victim.email,
    name: victim.name,
    sub: victim.id,
    iss: "taskflow",
    aud: "taskflow",
    iat: now(),
    exp: now() + 300,
    ...overrides,
  };
}

const HS256 = { alg: "HS256", typ: "JWT" };
const token = (value: string): Credential => ({ kind: "token", token: value });

/** A token of exactly `length` characters: the victim's claims, padded; a made-up signature. */
function oversized(victim: Victim, length: number): string {
  const padding = "x".repeat(Math.floor(((length - 1_000) * 3) / 4));
  const signed = `${b64(HS256)}.${b64(claims(victim, { pad: padding }))}`;
  const signature = randomBytes(length)
    .toString("base64url")
    .slice(0, length - signed.length - 1);
  return `${signed}.${signature}`;
}

export const OVERSIZED_TOKEN_LENGTH = 16 * 1024;

export const ATTACKS: readonly Attack[] = [
  { id: "none", what: "no credentials at all", grpc: true, credential: () => ({ kind: "none" }) },
  {
    id: "alg-none",
    what: 'alg "none": the victim\'s claims, no signature',
    grpc: true,
    credential: ({ victim }) =>
      token(`${b64({ alg: "none", typ: "JWT" })}.${b64(claims(victim))}.`),
  },
  {
    id: "alg-NONE",
    what: 'alg "NONE" with a signature by an unknown key (case games)',
    grpc: true,
    credential: ({ victim }) =>
      token(hs256({ alg: "NONE", typ: "JWT" }, claims(victim), randomBytes(32))),
  },
  {
    id: "hs-pubkey",
    what: "key confusion: HS256 whose HMAC key is an RSA public key (PEM)",
    grpc: true,
    credential: ({ victim }) => token(hs256(HS256, claims(victim), rsaPublicPem)),
  },
  {
    id: "rs-jwk",
    what: "key confusion: RS256 by the attacker's key, its public key embedded (jwk header)",
    grpc: true,
    credential: ({ victim }) =>
      token(asymmetric({ alg: "RS256", typ: "JWT", jwk: rsaJwk }, claims(victim), rsa.privateKey)),
  },
  {
    id: "es-jwk",
    what: "key confusion: ES256 by the attacker's key, its public key embedded (jwk header)",
    grpc: true,
    credential: ({ victim }) =>
      token(asymmetric({ alg: "ES256", typ: "JWT", jwk: ecJwk }, claims(victim), ec.privateKey)),
  },
  {
    id: "wrong-key",
    what: "HS256 signed with another secret",
    grpc: true,
    credential: ({ victim }) =>
      token(hs256(HS256, claims(victim), randomBytes(32).toString("hex"))),
  },
  {
    id: "expired",
    what: "signed with the real secret, expired a minute ago",
    grpc: true,
    credential: ({ victim, secret }) =>
      token(hs256(HS256, claims(victim, { iat: now() - 600, exp: now() - 60 }), secret)),
  },
  {
    id: "nbf",
    what: "signed with the real secret, not valid before an hour from now",
    grpc: true,
    credential: ({ victim, secret }) =>
      token(hs256(HS256, claims(victim, { nbf: now() + 3_600 }), secret)),
  },
  {
    id: "no-exp",
    what: "signed with the real secret, without an expiry",
    grpc: true,
    credential: ({ victim, secret }) =>
      token(hs256(HS256, claims(victim, { exp: undefined }), secret)),
  },
  {
    id: "wrong-iss",
    what: "signed with the real secret, issued by someone else",
    grpc: true,
    credential: ({ victim, secret }) =>
      token(hs256(HS256, claims(victim, { iss: "https://evil.example.com" }), secret)),
  },
  {
    id: "wrong-aud",
    what: "signed with the real secret, meant for another audience",
    grpc: true,
    credential: ({ victim, secret }) =>
      token(hs256(HS256, claims(victim, { aud: "another-service" }), secret)),
  },
  {
    id: "other-kind",
    what: "a service's token (the API's own, for the validator) used as a user's",
    // The validator's callers are services and users alike: nothing of another kind there.
    grpc: false,
    credential: ({ serviceToken }) => token(serviceToken),
  },
  {
    id: "tampered",
    what: "the attacker's real token with sub and email changed to the victim's",
    grpc: true,
    credential: ({ victim, attackerToken }) => {
      const [header, payload, signature] = attackerToken.split(".");
      const changed = {
        ...(JSON.parse(Buffer.from(payload ?? "", "base64url").toString()) as object),
        sub: victim.id,
        email: victim.email,
      };
      return token(`${header}.${b64(changed)}.${signature}`);
    },
  },
  {
    id: "kid-path",
    what: "kid naming a file (/dev/null), signed with the empty key that file holds",
    grpc: true,
    credential: ({ victim }) =>
      token(hs256({ ...HS256, kid: "../../../../../../../dev/null" }, claims(victim), "")),
  },
  {
    id: "kid-sqli",
    what: "kid with SQL injection selecting a key of the attacker's, signed with it",
    grpc: true,
    credential: ({ victim }) =>
      token(
        hs256(
          { ...HS256, kid: "none' UNION SELECT 'attacker-key' -- " },
          claims(victim),
          "attacker-key",
        ),
      ),
  },
  {
    id: "jku",
    what: "jku and x5u pointing at the attacker's keys, RS256 by the attacker's key",
    grpc: true,
    credential: ({ victim }) =>
      token(
        asymmetric(
          {
            alg: "RS256",
            typ: "JWT",
            kid: "attacker",
            jku: "http://127.0.0.1:9/jwks.json",
            x5u: "http://127.0.0.1:9/cert.pem",
          },
          claims(victim),
          createPrivateKey(rsa.privateKey.export({ type: "pkcs8", format: "pem" })),
        ),
      ),
  },
  {
    id: "16KB",
    what: `a ${OVERSIZED_TOKEN_LENGTH}-character token (the victim's claims, padded; unknown key)`,
    grpc: true,
    credential: ({ victim }) => token(oversized(victim, OVERSIZED_TOKEN_LENGTH)),
  },
];

/** Only for HTTP: a valid token where no credential is read, the URL. */
export const URL_TOKEN_ATTACK = {
  id: "in-url",
  what: "the victim's valid token in the URL (?access_token=, ?token=)",
};
