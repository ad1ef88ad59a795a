/**
 * The JSON schemas of the HTTP API: Fastify validates requests with them (once, where they enter;
 * unknown fields are refused, types are not coerced) and serialises answers with them, and
 * @fastify/swagger turns the same objects into the OpenAPI document served at /docs. Ranges follow
 * the CLI's (src/commands/search.ts, query-options.ts).
 */
import { SEARCH_MODES } from '../search/translator.js';

const JAVA_INT_MAX = 2 ** 31 - 1;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error answer. 400s name the field at fault and the reason.',
  properties: {
    error: { type: 'string', description: 'stable code: invalid_request, unauthorized, not_found, index_not_found, body_too_large, encoder_busy, service_unavailable, ...' },
    message: { type: 'string' },
    field: { type: 'string', description: 'the input at fault, e.g. `size`, `pruning.topK`, `filter[0]`' },
    reason: { type: 'string' },
  },
  required: ['error', 'message'],
} as const;

const errorRef = { $ref: 'Error#' } as const;

/** Error answers a route may give, for the OpenAPI document. */
export function errorResponses(...codes: number[]): Record<number, unknown> {
  const text: Record<number, string> = {
    400: 'invalid input: the field and the reason',
    401: 'no or wrong API key',
    404: 'not found',
    409: 'the index was built with another model',
    413: 'the body is over the limit',
    415: 'unsupported content type',
    503: 'busy or a service is unavailable: retry after Retry-After seconds',
  };
  return Object.fromEntries(codes.map((c) => [c, { description: text[c] ?? String(c), ...errorRef }]));
}

const weights = {
  type: 'object',
  additionalProperties: false,
  required: ['concepts', 'bm25'],
  properties: {
    concepts: { type: 'number', minimum: 0 },
    bm25: { type: 'number', minimum: 0 },
  },
} as const;

const pruning = {
  type: 'object',
  additionalProperties: false,
  description: 'query-side pruning over the package defaults, key by key (as the CLI flags; the encoder applies it, docs/SEARCH.md)',
  properties: {
    topK: { type: 'integer', minimum: 1, maximum: JAVA_INT_MAX, description: 'keep at most the k heaviest query concepts (CLI --top-k-concepts)' },
    minWeight: { type: 'number', minimum: 0 },
    maxRatio: { type: 'number', minimum: 0, maximum: 1, description: 'drop concepts lighter than this share of the heaviest' },
    mass: { type: 'number', minimum: 0, maximum: 1, description: 'keep the heaviest concepts holding this share of the weight' },
  },
} as const;

const clause = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  description: 'one OpenSearch query clause, e.g. {"term": {"model_version": "1.2.0"}}',
} as const;

export const searchBodySchema = {
  $id: 'SearchRequest',
  type: 'object',
  additionalProperties: false,
  required: ['query'],
  properties: {
    query: { type: 'string', minLength: 1, maxLength: 10_000, description: 'the query text' },
    index: { type: 'string', minLength: 1, maxLength: 255, description: 'index or alias (default: the server\'s SAESPLADE_INDEX)' },
    mode: { type: 'string', enum: [...SEARCH_MODES], default: 'concepts' },
    size: { type: 'integer', minimum: 0, maximum: 10_000, default: 10 },
    from: { type: 'integer', minimum: 0, maximum: 10_000, default: 0 },
    filter: { description: 'non-scoring filter clause(s) on indexed fields', anyOf: [clause, { type: 'array', items: clause, maxItems: 64 }] },
    source: {
      description: '_source to return: true, false or field names (default: every field but the concept map)',
      anyOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 256 }],
    },
    explain: {
      description: 'per hit, the concepts that contributed most (true: 5)',
      anyOf: [{ type: 'boolean' }, { type: 'integer', minimum: 1, maximum: 1000 }],
    },
    pruning,
    inferenceFree: { type: 'boolean', description: "encode the query from the model package's token table: no transformer at query time (the package needs a query_table)" },
    maxClauses: { type: 'integer', minimum: 1, maximum: JAVA_INT_MAX, default: 1024, description: "the cluster's indices.query.bool.max_clause_count" },
    twoPhase: {
      description: 'heavy concepts in the query, all of them in a rescore over window hits (off by default; true: 16 heavy)',
      anyOf: [
        { type: 'boolean' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            heavy: { type: 'integer', minimum: 1, maximum: JAVA_INT_MAX },
            heavyMass: { type: 'number', minimum: 0, maximum: 1 },
            window: { type: 'integer', minimum: 1, maximum: JAVA_INT_MAX },
          },
        },
      ],
    },
    hybrid: { ...weights, description: 'weighted-sum hybrid: boosts of the concept and BM25 parts' },
    rrf: {
      type: 'object',
      additionalProperties: false,
      properties: {
        k: { type: 'number', minimum: 0, default: 60 },
        window: { type: 'integer', minimum: 1, maximum: JAVA_INT_MAX },
        weights,
      },
    },
    textFields: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 64, description: 'fields BM25 searches (default title, text)' },
    dsl: { type: 'boolean', description: 'include the request bodies sent to OpenSearch' },
  },
} as const;

export interface SearchBody {
  query: string;
  index?: string;
  mode?: (typeof SEARCH_MODES)[number];
  size?: number;
  from?: number;
  filter?: Record<string, unknown> | Record<string, unknown>[];
  source?: boolean | string[];
  explain?: boolean | number;
  pruning?: { topK?: number; minWeight?: number; maxRatio?: number; mass?: number };
  maxClauses?: number;
  twoPhase?: boolean | { heavy?: number; heavyMass?: number; window?: number };
  inferenceFree?: boolean;
  hybrid?: { concepts: number; bm25: number };
  rrf?: { k?: number; window?: number; weights?: { concepts: number; bm25: number } };
  textFields?: string[];
  dsl?: boolean;
}

const conceptRef = {
  type: 'object',
  properties: { id: { type: 'integer' }, weight: { type: 'number' }, label: { type: 'string' } },
  required: ['id', 'weight'],
} as const;

export const searchResultSchema = {
  $id: 'SearchResult',
  type: 'object',
  properties: {
    index: { type: 'string' },
    mode: { type: 'string' },
    executed: { type: 'string', description: 'what ran: bm25 when the query had no concepts' },
    fallback: { type: 'string' },
    took: { type: 'number', description: "OpenSearch's took, ms" },
    timings: {
      type: 'object',
      properties: { encodeMs: { type: 'number' }, searchMs: { type: 'number' }, totalMs: { type: 'number' } },
    },
    queryVector: {
      type: 'object',
      properties: {
        nonZeros: { type: 'integer' },
        used: { type: 'integer' },
        firstPhase: { type: 'integer' },
        maxWeight: { type: 'number' },
        keptMass: { type: 'number' },
        clauseBudget: { type: 'integer' },
        concepts: { type: 'array', items: conceptRef, description: 'the query concepts sent, heaviest first, with labels' },
      },
    },
    hits: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          rank: { type: 'integer' },
          id: { type: 'string' },
          score: { type: 'number' },
          source: { type: 'object', additionalProperties: true },
          ranks: { type: 'object', properties: { concepts: { type: 'integer' }, bm25: { type: 'integer' } } },
          explanation: {
            type: 'object',
            description: 'the concepts this hit matched on (with explain)',
            properties: {
              dot: { type: 'number' },
              matched: { type: 'integer' },
              otherShare: { type: 'number' },
              unavailable: { type: 'string' },
              concepts: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'integer' },
                    label: { type: 'string' },
                    queryWeight: { type: 'number' },
                    docWeight: { type: 'number' },
                    contribution: { type: 'number' },
                    share: { type: 'number' },
                  },
                },
              },
            },
          },
        },
      },
    },
    dsl: { type: 'object', additionalProperties: true },
  },
} as const;

export const encodeBodySchema = {
  $id: 'EncodeRequest',
  type: 'object',
  additionalProperties: false,
  required: ['texts'],
  properties: {
    texts: { type: 'array', items: { type: 'string', maxLength: 100_000 }, minItems: 1, maxItems: 256 },
    mode: { type: 'string', enum: ['query', 'document'], default: 'query', description: 'query: the query graph, length and pruning (what /v1/search uses)' },
    top: { type: 'integer', minimum: 0, maximum: 16_384, default: 20, description: 'concepts listed per text with labels, by weight' },
    raw: { type: 'boolean', description: 'skip pruning' },
    pruning,
    long: { type: 'string', enum: ['truncate', 'passages'], description: 'documents over the max length (document mode)' },
  },
} as const;

export interface EncodeBody {
  texts: string[];
  mode?: 'query' | 'document';
  top?: number;
  raw?: boolean;
  pruning?: { topK?: number; minWeight?: number; maxRatio?: number; mass?: number };
  long?: 'truncate' | 'passages';
}

export const encodeResultSchema = {
  $id: 'EncodeResult',
  type: 'object',
  properties: {
    model: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, dictionarySize: { type: 'integer' } } },
    mode: { type: 'string' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          nnz: { type: 'integer' },
          top: { type: 'array', items: conceptRef, description: 'the heaviest concepts with labels' },
          vector: {
            type: 'object',
            additionalProperties: { type: 'number' },
            description: 'concept id → weight: a rank_features map (field `concepts.<id>`)',
          },
        },
      },
    },
  },
} as const;

const docParse = {
  format: { type: 'string', enum: ['auto', 'jsonl', 'beir'], default: 'auto', description: 'as `ingest --format`' },
  idField: { type: 'string', minLength: 1, maxLength: 256, default: 'id' },
  textFields: { type: 'string', minLength: 1, maxLength: 1024, default: 'title,text', description: 'comma-separated, encoded in order' },
  metadataField: { type: 'string', minLength: 1, maxLength: 256, default: 'metadata' },
  index: { type: 'string', minLength: 1, maxLength: 255, description: 'index or alias (default: the server\'s SAESPLADE_INDEX)' },
  batchSize: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'documents per batch job, 1 to 1000 (default 32)' },
} as const;

export const documentsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: docParse,
} as const;

export interface DocumentsQuery {
  format?: 'auto' | 'jsonl' | 'beir';
  idField?: string;
  textFields?: string;
  metadataField?: string;
  index?: string;
  batchSize?: string;
}

/** One body schema per content type: a JSON array of documents, or NDJSON (one document a line). */
export const documentsBodySchema = {
  content: {
    'application/json': {
      schema: {
        type: 'array',
        minItems: 1,
        items: { type: 'object', description: 'a document: id (or _id), title, text, metadata; checked one by one like an ingest line' },
      },
    },
    'application/x-ndjson': {
      schema: { type: 'string', minLength: 1, description: 'JSON Lines: one document a line' },
    },
    'application/jsonl': {
      schema: { type: 'string', minLength: 1, description: 'the same as application/x-ndjson' },
    },
    'text/plain': {
      schema: { type: 'string', minLength: 1, description: 'the same as application/x-ndjson' },
    },
  },
} as const;

export const jobSetAcceptedSchema = {
  $id: 'JobSetAccepted',
  type: 'object',
  properties: {
    setId: { type: 'string' },
    index: { type: 'string' },
    read: { type: 'integer', description: 'documents (lines or array items) read' },
    queued: { type: 'integer' },
    rejected: { type: 'integer', description: 'invalid at entry: listed by GET /v1/jobs/{id}/failed' },
    jobs: { type: 'integer' },
    status: { type: 'string', description: 'URL of the job set' },
  },
} as const;

export const jobIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$', description: 'job set id' } },
} as const;

export const jobSetSchema = {
  $id: 'JobSet',
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: ['producing', 'running', 'done'], description: 'producing: still reading its source; running: jobs left; done: every document accounted for' },
    source: { type: 'string' },
    index: { type: 'string' },
    queue: { type: 'string' },
    createdAt: { type: 'string' },
    finishedAt: { type: 'string' },
    producerDone: { type: 'boolean' },
    done: { type: 'boolean' },
    read: { type: 'integer' },
    queued: { type: 'integer' },
    indexed: { type: 'integer' },
    skipped: { type: 'integer' },
    failed: { type: 'integer' },
    failedAtEntry: { type: 'integer' },
    jobs: { type: 'integer' },
    jobsDone: { type: 'integer' },
  },
} as const;

export const failedQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    start: { type: 'string', pattern: '^[0-9]{1,9}$', default: '0' },
    count: { type: 'string', pattern: '^[0-9]{1,5}$', default: '100', description: 'at most 10000' },
  },
} as const;

export const failedListSchema = {
  $id: 'FailedDocuments',
  type: 'object',
  properties: {
    id: { type: 'string' },
    failed: { type: 'integer', description: 'failed documents in the set' },
    start: { type: 'integer' },
    documents: {
      type: 'array',
      items: {
        type: 'object',
        properties: { source: { type: 'string' }, id: { type: 'string' }, code: { type: 'string' }, reason: { type: 'string' }, at: { type: 'string' } },
      },
    },
  },
} as const;

export const healthSchema = {
  type: 'object',
  properties: { status: { type: 'string' }, uptimeS: { type: 'number' } },
} as const;

const check = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    ms: { type: 'number' },
    error: { type: 'string' },
    version: { type: 'string' },
    model: { type: 'string' },
  },
} as const;

export const readySchema = {
  $id: 'Readiness',
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    checks: { type: 'object', properties: { opensearch: check, redis: check, model: check } },
  },
} as const;

/** Schemas referenced by `$ref` ('Error#'): added once with app.addSchema. */
export const SHARED_SCHEMAS = [errorSchema] as const;
