// `npm run setup`: everything a fresh clone needs (npm deps, pinned Temporal binaries, build).
import { fail, setup } from './bootstrap.mjs';

try {
  setup();
  process.stdout.write('✔ setup complete\n');
} catch (error) {
  fail(error);
}
