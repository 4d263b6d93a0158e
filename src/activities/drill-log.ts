import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { parseInput } from './validation';

/** Writes the drill log `YYYY-MM-DD-drill.md` into the policy's drill folder (once per run). */

const writeDrillLogSchema = z
  .object({
    date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    markdown: z.string().min(1).max(200_000),
    runMarker: z.string().min(1).max(300),
  })
  .strict();
export type WriteDrillLogInput = z.input<typeof writeDrillLogSchema>;

export interface DrillLogWritten {
  path: string;
  written: boolean;
}

export function createDrillLogActivities(deps: { drillLogDirectory: string }) {
  return {
    writeDrillLog: (raw: WriteDrillLogInput): Promise<DrillLogWritten> => {
      const input = parseInput(writeDrillLogSchema, raw, 'writeDrillLog input');
      mkdirSync(deps.drillLogDirectory, { recursive: true });
      const marker = `<!-- drill run: ${input.runMarker} -->`;
      // A second drill the same day gets its own file; a retry of this one finds its marker.
      for (let n = 1; n < 100; n += 1) {
        const file = path.join(deps.drillLogDirectory, `${input.date}-drill${n === 1 ? '' : `-${n}`}.md`);
        if (existsSync(file)) {
          if (readFileSync(file, 'utf8').includes(marker))
            return Promise.resolve({ path: file, written: false });
          continue;
        }
        writeFileSync(file, `${input.markdown.trimEnd()}\n\n${marker}\n`, { flag: 'wx' });
        return Promise.resolve({ path: file, written: true });
      }
      throw new Error(`too many drill logs for ${input.date} in ${deps.drillLogDirectory}`);
    },
  };
}
