/**
 * `node --import <this file>` makes `import … from 'higress-plugin/emulator'` resolve to this
 * package, wherever the importing project lives. `higress-plugin test` passes it to the test run.
 */
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../../spec/index.js';

register('./self-resolve-hooks.js', import.meta.url, {
  data: { packageJsonUrl: pathToFileURL(join(PACKAGE_ROOT, 'package.json')).href },
});
