import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scrubHead } from '../../common/scrub';

/**
 * Where backups, dumps, manifests and long command output go instead of the run's history: the
 * history keeps an ArtifactRef (where, sha256, size, a short scrubbed excerpt), never the content.
 */
export interface ArtifactRef {
  path: string;
  sha256: string;
  bytes: number;
  /** The start of the content, scrubbed of secrets and cut short: enough to recognise it. */
  excerpt: string;
}

/** A place for artifacts; a directory today, an object store can implement it later. */
export interface ArtifactStore {
  /**
   * Stores `content` under `name` (the same name again replaces it: a retried activity writes the
   * same bytes). `excerpt` replaces the default one (the scrubbed start of the content), e.g. when
   * the start itself may hold secrets.
   */
  put(name: string, content: string | Buffer, excerpt?: string): Promise<ArtifactRef>;
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;

/** Artifacts as files in one directory (from the policy or the worker's configuration). */
export class DirectoryArtifactStore implements ArtifactStore {
  constructor(
    readonly directory: string,
    /** Configured secret values, scrubbed from excerpts. */
    private readonly secrets: readonly string[] = [],
  ) {}

  put(name: string, content: string | Buffer, excerpt?: string): Promise<ArtifactRef> {
    return new Promise((resolve) => resolve(this.write(name, content, excerpt)));
  }

  private write(name: string, content: string | Buffer, excerpt?: string): ArtifactRef {
    if (!SAFE_NAME.test(name))
      throw new Error(`artifact name "${name}": letters, digits, ".", "_" and "-" only`);
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const file = path.join(this.directory, name);
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    // Written whole then renamed: a reader never sees half an artifact.
    const partial = `${file}.partial`;
    writeFileSync(partial, bytes, { mode: 0o600 });
    renameSync(partial, file);
    return {
      path: file,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      excerpt: scrubHead(excerpt ?? bytes.subarray(0, 4_096).toString('utf8'), this.secrets, 300),
    };
  }
}
