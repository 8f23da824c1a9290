/**
 * Public surface of the configuration module: the schema and its type, the loader, the dynamic
 * settings, and the address helpers other modules need.
 */
export { ConfigSchema, type Config, type Tags } from './schema.js';
export { loadConfigFile, loadConfigText, loadConfigDocument, applyEnvOverrides, type LoadResult, type LoadOptions } from './load.js';
export {
  DEFAULT_DYNAMIC,
  effectivePgParameters,
  ignoredLocalParameters,
  resolveDynamic,
  timingProblem,
  validateDynamic,
  type DynamicConfig,
  type PgParameterValue,
} from './dynamic.js';
export { DCS_ONLY_PG_PARAMETERS, DERIVED_PG_PARAMETERS, DynamicInputSchema } from './dynamic-schema.js';
export { parseBoolish } from './ajv.js';
export { etcdEndpoints } from './etcd.js';
export {
  formatHostPort,
  isHostPort,
  parseEtcdHost,
  parseHostPort,
  parseListen,
  type HostPort,
  type ListenAddresses,
} from './hostport.js';
