/**
 * Where a command finds an image: a plugin project (its built layout in `dist/`), a layout
 * folder, or a registry reference.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ImageLayout } from '../../runtime/oci/image-layout.js';
import { PackageError } from './errors.js';

/** The image layout for `dir`: `dir` itself when it is a layout, else `dir/dist`. */
export function findLayout(dir: string): ImageLayout {
  const abs = resolve(dir);
  if (ImageLayout.isLayout(abs)) return new ImageLayout(abs);
  const dist = join(abs, 'dist');
  if (ImageLayout.isLayout(dist)) return new ImageLayout(dist);
  const hint = existsSync(join(abs, 'spec.yaml')) ? `run "higress-plugin build ${dir}" first` : 'name a plugin project or an OCI image layout folder';
  throw new PackageError('HP_PACKAGE_NO_LAYOUT', `no OCI image layout in ${abs} or ${dist}: ${hint}`);
}

/** True when `arg` names something on disk (a folder or file) rather than a registry reference. */
export function isLocalPath(arg: string): boolean {
  if (arg.startsWith('oci://')) return false;
  return existsSync(arg) && (statSync(arg).isDirectory() || statSync(arg).isFile());
}
