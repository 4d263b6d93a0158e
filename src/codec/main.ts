import { ConfigurationError } from '../common/errors';
import { AesGcmPayloadCodec } from './aes-gcm';
import { loadPayloadKeys } from './keys';
import { startCodecServer } from './server';

/**
 * `npm run codec-server`: the codec server for a real cluster's Web UI and `temporal` CLI, with
 * the workers' keys (RUNBOOKS_PAYLOAD_KEYS or RUNBOOKS_PAYLOAD_KEYS_FILE). RUNBOOKS_CODEC_PORT
 * (default 8081), RUNBOOKS_CODEC_HOST (default 127.0.0.1), RUNBOOKS_CODEC_CORS_ORIGINS (the UI's
 * origin, comma-separated; default http://localhost:8233,http://127.0.0.1:8233) and
 * RUNBOOKS_CODEC_TOKEN (when set, every request needs "Authorization: Bearer <token>").
 */
async function main(): Promise<void> {
  const keys = loadPayloadKeys(process.env);
  if (keys === 'off')
    throw new ConfigurationError('a codec server needs the payload keys; encryption is off here');
  const port = Number(process.env.RUNBOOKS_CODEC_PORT ?? 8081);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigurationError(`RUNBOOKS_CODEC_PORT: not a port: ${process.env.RUNBOOKS_CODEC_PORT}`);
  const allowedOrigins = (
    process.env.RUNBOOKS_CODEC_CORS_ORIGINS ?? 'http://localhost:8233,http://127.0.0.1:8233'
  )
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  const token = process.env.RUNBOOKS_CODEC_TOKEN;
  const server = await startCodecServer({
    codec: new AesGcmPayloadCodec(keys),
    allowedOrigins,
    ...(token ? { token } : {}),
    host: process.env.RUNBOOKS_CODEC_HOST ?? '127.0.0.1',
    port,
  });
  process.stdout.write(
    `codec server on ${server.url} (keys ${keys.map((k) => k.id).join(', ')}; CORS ${allowedOrigins.join(', ')}; token ${token ? 'required' : 'not required'})\n`,
  );
  const stop = () => void server.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `codec server: ${error instanceof ConfigurationError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
