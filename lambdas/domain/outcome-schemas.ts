/**
 * One JSON Schema per outcome event, made from the declared detail shapes (OUTCOME_SHAPES, which
 * the compiler checks against OutcomeDetails): the whole EventBridge event, `source` and
 * `detail-type` fixed, `detail` with exactly the declared fields (required unless optional, no
 * others). Only keywords that draft-04 and draft-07 share, so the same body serves the committed
 * files (`schemas/outcomes/<DetailType>.json`, draft-07, written by `npm run docs`) and the
 * EventBridge schema registry (type `JSONSchemaDraft4`, lib/capabilities/observability.ts).
 *
 * Pure module: no SDK imports.
 */
import { OUTCOME_SOURCE, type OutcomeType } from './contract';
import { OUTCOME_SHAPES, type OutcomeField } from './outcome-shapes';

/** Where the schemas are committed, relative to the repository root. */
export const OUTCOME_SCHEMA_DIR = 'schemas/outcomes';

export const JSON_SCHEMA_DRAFT_07 = 'http://json-schema.org/draft-07/schema#';
export const JSON_SCHEMA_DRAFT_04 = 'http://json-schema.org/draft-04/schema#';

const JSON_TYPES: Readonly<Record<OutcomeField['type'], string>> = {
  string: 'string',
  number: 'number',
  boolean: 'boolean',
  list: 'array',
  map: 'object',
};

/** A JSON Schema, as plain data. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** Every outcome detail-type, in the order OUTCOME_SHAPES declares them. */
export const OUTCOME_TYPES = Object.keys(OUTCOME_SHAPES) as OutcomeType[];

/** The JSON Schema of the outcome event `detailType` (`$schema` draft-07 unless told). */
export function outcomeSchema(detailType: OutcomeType, $schema: string = JSON_SCHEMA_DRAFT_07): JsonSchema {
  const shape = OUTCOME_SHAPES[detailType];
  const fields = Object.entries(shape.fields) as [string, OutcomeField][];
  const required = fields.filter(([, f]) => f.optional !== true).map(([name]) => name);
  return {
    $schema,
    title: detailType,
    description: `Phoenix outcome ${detailType}: ${shape.description}`,
    type: 'object',
    required: ['source', 'detail-type', 'detail'],
    properties: {
      source: { type: 'string', enum: [OUTCOME_SOURCE] },
      'detail-type': { type: 'string', enum: [detailType] },
      detail: {
        type: 'object',
        // draft-04: `required` is a non-empty list when present.
        ...(required.length > 0 ? { required } : {}),
        properties: Object.fromEntries(
          fields.map(([name, f]) => [name, { type: JSON_TYPES[f.type], description: f.description }]),
        ),
        additionalProperties: false,
      },
    },
  };
}

/** The file of an outcome's schema, relative to the repository root. */
export function outcomeSchemaPath(detailType: OutcomeType): string {
  return `${OUTCOME_SCHEMA_DIR}/${detailType}.json`;
}
