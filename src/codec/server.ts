import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import { z } from 'zod';
import { SEALED_BY_CODEC_SERVER } from '../common/unsealed-payload';
import { describeIssuesInline } from '../common/validation';
import type { AesGcmPayloadCodec } from './aes-gcm';

/**
 * The Temporal codec server convention, for the Web UI and the `temporal` CLI: `POST /encode` and
 * `POST /decode` take and return `{"payloads":[{"metadata":{k: base64}, "data": base64}]}`. CORS
 * answers only the listed origins (the UI's); with a token, every POST must carry
 * `Authorization: Bearer <token>` (the UI forwards its own header when configured to, the CLI
 * sends `--codec-auth`). It listens on the address given (127.0.0.1 unless told otherwise).
 */
export interface CodecServerOptions {
  /**
   * What it seals names the codec server inside (SEALED_BY_CODEC_SERVER): taken in a signal, a
   * start or an Update, refused in an activity's place.
   */
  codec: AesGcmPayloadCodec;
  /** Origins allowed to call it from a browser, e.g. http://localhost:8233 (the Web UI). */
  allowedOrigins: readonly string[];
  /** When set, a POST without `Authorization: Bearer <token>` is refused (401). */
  token?: string;
  host?: string;
  port?: number;
  /** Largest request body accepted, in bytes (default 8 MiB). */
  maxBodyBytes?: number;
}

export interface RunningCodecServer {
  url: string;
  stop(): Promise<void>;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
/** Fields other than metadata and data (e.g. a newer proto's) are ignored, not refused. */
const payloadsSchema = z
  .object({
    payloads: z
      .array(z.looseObject({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }))
      .max(10_000),
  })
  .strict();

function fromJson(body: z.output<typeof payloadsSchema>): Payload[] {
  return body.payloads.map((p) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64')]),
    ),
    data: Buffer.from(p.data ?? '', 'base64'),
  }));
}

function toJson(payloads: Payload[]): { payloads: { metadata: Record<string, string>; data: string }[] } {
  const base64Of = (bytes: Uint8Array | null | undefined) =>
    Buffer.from(bytes ?? new Uint8Array()).toString('base64');
  return {
    payloads: payloads.map((p) => ({
      metadata: Object.fromEntries(
        Object.entries(p.metadata ?? {}).map(([key, value]) => [key, base64Of(value)]),
      ),
      data: base64Of(p.data),
    })),
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, `request body over ${limit} bytes`));
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  const { codec, allowedOrigins, token } = options;
  const limit = options.maxBodyBytes ?? 8 * 1024 * 1024;

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const origin = request.headers.origin;
    if (origin && allowedOrigins.includes(origin)) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Credentials', 'true');
      response.setHeader('Vary', 'Origin');
    }
    const path = new URL(request.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '');
    const operation = path === '/encode' ? 'encode' : path === '/decode' ? 'decode' : undefined;
    if (request.method === 'OPTIONS') {
      if (!origin || !allowedOrigins.includes(origin))
        throw new HttpError(403, `origin ${origin ?? '(none)'} is not allowed`);
      response.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      response.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      response.setHeader('Access-Control-Max-Age', '600');
      response.writeHead(204).end();
      return;
    }
    if (!operation) throw new HttpError(404, 'POST /encode or POST /decode');
    if (request.method !== 'POST') throw new HttpError(405, `${request.method} ${path}: use POST`);
    if (origin && !allowedOrigins.includes(origin))
      throw new HttpError(403, `origin ${origin} is not allowed`);
    if (token !== undefined && !tokenMatches(request.headers.authorization, token))
      throw new HttpError(401, 'missing or wrong bearer token');
    let body: unknown;
    try {
      body = JSON.parse(await readBody(request, limit));
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(400, 'the body is not JSON');
    }
    const parsed = payloadsSchema.safeParse(body);
    if (!parsed.success) throw new HttpError(400, describeIssuesInline(parsed.error, `${operation} request`));
    const payloads = fromJson(parsed.data);
    let result: Payload[];
    try {
      result =
        operation === 'encode'
          ? await codec.seal(payloads, SEALED_BY_CODEC_SERVER)
          : await codec.decode(payloads);
    } catch (error) {
      throw new HttpError(422, (error as Error).message);
    }
    response.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(toJson(result)));
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof HttpError ? error.message : 'codec server error';
      if (!response.headersSent)
        response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const { address, port } = server.address() as AddressInfo;
      resolve({
        url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
        stop: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
