import { SaespladeError } from '../errors.js';
/**
 * A model package that cannot be used: unreadable or invalid manifest, a missing file, or a graph
 * whose inputs/outputs disagree with the manifest. The message names the file and the mismatch.
 */
export class ModelPackageError extends SaespladeError {
  override name = 'ModelPackageError';
  constructor(
    message: string,
    /** The file the problem is in (relative to the working directory when possible). */
    readonly file?: string,
  ) {
    super(message);
  }
}
