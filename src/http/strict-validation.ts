/**
 * The validator of the plugin's own routes, whatever the embedding app set for Fastify's: a body with a
 * member the route does not document gets 400 ERR_VALIDATION (docs/errors.md), and a string is never taken
 * for a number or a boolean. Fastify's default ajv removes unknown members silently and coerces types, and an
 * app may have set its own options; the routes must not depend on either.
 *
 * Query strings and path parameters are text by nature: they are converted to the schema's types (`?limit=10`),
 * but unknown members are refused there too.
 */
import { Ajv, type Options } from 'ajv'
import type { FastifySchema, FastifySchemaCompiler } from 'fastify'

const COMMON: Options = {
  // Never drop what the schema does not list: additionalProperties: false refuses it.
  removeAdditional: false,
  useDefaults: true,
  allErrors: false,
  // TypeBox schemas carry annotations (description, examples) that strict mode would complain about.
  strict: false,
  addUsedSchema: false
}

const bodies = new Ajv({ ...COMMON, coerceTypes: false })
const text = new Ajv({ ...COMMON, coerceTypes: 'array' })

/** A route-scope validatorCompiler: `fastify.setValidatorCompiler(strictValidatorCompiler)`. */
export const strictValidatorCompiler: FastifySchemaCompiler<FastifySchema> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'querystring' || httpPart === 'params' ? text : bodies
  return ajv.compile(schema as object)
}
