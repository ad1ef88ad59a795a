/**
 * Errors of the OpenSearch-compatible endpoint, in OpenSearch's own shape, so that a client's
 * error handling (opensearch-js's ResponseError, the Python client's exceptions, Dashboards)
 * works unchanged: `{"error": {"root_cause": [{type, reason}], type, reason}, "status": N}`.
 */
import { SaespladeError } from '../../errors.js';

export interface OpenSearchErrorBody {
  error: { root_cause: { type: string; reason: string }[]; type: string; reason: string; index?: string };
  status: number;
}

export class CompatError extends SaespladeError {
  override name = 'CompatError';
  constructor(
    readonly status: number,
    /** OpenSearch's `error.type`: `parsing_exception`, `illegal_argument_exception`, or one of ours (`saesplade_…`). */
    readonly type: string,
    message: string,
    readonly index?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function openSearchErrorBody(status: number, type: string, reason: string, index?: string): OpenSearchErrorBody {
  const cause: { type: string; reason: string; index?: string } = { type, reason };
  if (index !== undefined) cause.index = index;
  return { error: { root_cause: [{ ...cause }], ...cause }, status };
}

/** A bulk item's `error` object (no root_cause, as OpenSearch writes them). */
export function itemError(type: string, reason: string, index?: string): { type: string; reason: string; index?: string } {
  return index === undefined ? { type, reason } : { type, reason, index };
}
