import { z } from 'zod';

/**
 * The model package contract (`sae-splade-model/1`), see docs/MODEL_PACKAGE.md. Unknown keys are
 * allowed (forward compatibility) but every documented key is checked.
 */
export const MODEL_FORMAT = 'sae-splade-model/1';

const relFile = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a path inside the package');

const tensorName = z.string().min(1);

export const GraphInputsSchema = z.object({
  input_ids: tensorName,
  attention_mask: tensorName,
  /** null: the graph takes no token types and none are fed. */
  token_type_ids: tensorName.nullable().default(null),
});

export const GraphOutputSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('topk'),
    indices: tensorName,
    values: tensorName,
    k: z.number().int().positive(),
  }),
  z.object({ kind: z.literal('pooled'), weights: tensorName }),
  z.object({ kind: z.literal('token'), activations: tensorName }),
]);

export const GraphSchema = z.object({
  file: relFile,
  inputs: GraphInputsSchema,
  output: GraphOutputSchema,
});

export const PruningSchema = z.object({
  /** Keep at most this many weights (0 or absent: no limit). */
  top_k: z.number().int().nonnegative().optional(),
  /** Drop weights below this value. */
  min_weight: z.number().nonnegative().optional(),
  /** Keep the smallest set of heaviest weights whose sum reaches mass × total (1.0 = all). */
  mass: z.number().gt(0).lte(1).optional(),
  /** Drop weights below max_ratio × the vector's largest weight (OpenSearch's `max_ratio`). */
  max_ratio: z.number().min(0).lt(1).optional(),
});

export const ManifestSchema = z
  .object({
    format: z.literal(MODEL_FORMAT),
    name: z.string().min(1),
    version: z.string().min(1),
    dictionary_size: z.number().int().positive(),
    /**
     * What the dictionary's ids are: `concepts` (learned, labelled by concepts.json; the default) or
     * `vocabulary` (id j is the tokenizer's token j, as in word-piece SPLADE; dictionary_size must be the
     * tokenizer's vocabulary size, and the labels are its tokens).
     */
    dictionary: z.enum(['concepts', 'vocabulary']).default('concepts'),
    tokenizer: relFile,
    max_length: z.object({
      document: z.number().int().min(3),
      query: z.number().int().min(3),
    }),
    graphs: z.object({
      document: GraphSchema,
      query: GraphSchema.optional(),
    }),
    activation: z.literal('log1p_relu'),
    pooling: z.literal('max'),
    pruning: z
      .object({ document: PruningSchema.default({}), query: PruningSchema.default({}) })
      .default({ document: {}, query: {} }),
    concepts: relFile.optional().nullable(),
    golden: relFile.optional().nullable(),
    /**
     * The inference-free query table (model/saesplade_model/query_table.py): per vocabulary token, the
     * query graph's top-k weights for that token alone; `encode(..., 'query', { inferenceFree: true })`
     * max-pools the rows of a query's tokens instead of running the graph.
     */
    query_table: z.object({ file: relFile, k: z.number().int().min(1).max(4096) }).optional(),
    license: z.string().optional(),
    backbone: z.string().optional(),
  })
  .superRefine((m, ctx) => {
    for (const mode of ['document', 'query'] as const) {
      const g = m.graphs[mode];
      if (g?.output.kind === 'topk' && g.output.k > m.dictionary_size) {
        ctx.addIssue({
          code: 'custom',
          path: ['graphs', mode, 'output', 'k'],
          message: `k = ${g.output.k} exceeds dictionary_size = ${m.dictionary_size}`,
        });
      }
    }
  });

export type Manifest = z.infer<typeof ManifestSchema>;
export type GraphSpec = z.infer<typeof GraphSchema>;
export type GraphOutput = z.infer<typeof GraphOutputSchema>;
export type PruningSpec = z.infer<typeof PruningSchema>;
